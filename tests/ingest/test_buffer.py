"""The write-behind buffer: a full buffer counts its drops, spill files replay in order and
exactly once, a torn last line (kill -9 while writing) is skipped and counted, and a spill
file left by a stopped process is adopted by the next one."""

from __future__ import annotations

from clearpixel.domain.events import Hit, HitSource, Verdict
from clearpixel.ingest.buffer import HitBuffer
from clearpixel.ingest.pipeline import Batch
from clearpixel.ingest.sinks import FileQueueSink, in_process
from clearpixel.ingest.spill import SpillFiles
from clearpixel.ingest.tracker import Tracker, build_pipeline
from clearpixel.ingest.worker import IngestWorker
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import make_campaign, make_send, rows


def opens(ctx) -> int:
    return sum(r["n"] for r in rows(ctx, "hit_counters"))


def campaign_hits(ctx, n: int) -> list[Hit]:
    list_id = make_list(ctx)
    (contact,) = make_contacts(ctx, list_id, [1])
    campaign_id, _ = make_campaign(ctx, list_id)
    make_send(ctx, campaign_id, contact)
    at = ctx.now().timestamp()
    return [
        Hit(
            source=HitSource.PERSONAL,
            at=at + i,
            campaign_id=campaign_id,
            contact_id=contact,
            purposes=1,
            verdict=Verdict.HUMAN,
        )
        for i in range(n)
    ]


def test_full_buffer_counts_buffer_full_drops(ctx, tmp_path):
    buffer = HitBuffer(in_process(build_pipeline(ctx).ingest, tmp_path / "spill"), capacity=2)
    for hit in campaign_hits(ctx, 5):
        buffer.add(hit)
    buffer.flush_now()
    assert opens(ctx) == 2
    assert {r["reason"]: r["n"] for r in rows(ctx, "hit_drops")} == {"buffer_full": 3}


def test_spill_replays_in_order_once_and_skips_a_torn_line(ctx, tmp_path):
    pipeline = build_pipeline(ctx)
    hits = campaign_hits(ctx, 6)
    spill = SpillFiles(tmp_path / "spill")
    first, second = Batch("run-1", hits[:3]), Batch("run-2", hits[3:])
    spill.append(first)
    spill.append(second)
    spill.append(first)  # a batch spilled twice (commit in doubt) is applied once
    assert spill.current is not None
    with spill.current.open("a") as handle:
        handle.write('{"id": "run-3", "hits": [["perso')  # killed mid-write
    pipeline.ingest(first)  # the first one had in fact been committed
    replayed = spill.replay(pipeline.ingest)
    assert replayed == 3 and spill.unreadable == 1
    assert not spill.pending() and list((tmp_path / "spill").glob("*.jsonl")) == []
    assert opens(ctx) == 6
    assert len(rows(ctx, "personal_events")) == 6


def test_spill_file_of_a_stopped_process_is_adopted(ctx, tmp_path):
    hits = campaign_hits(ctx, 4)
    old = SpillFiles(tmp_path / "spill")
    old.append(Batch("old-1", hits))
    old.close()  # the process is gone: its lock is free
    sink = in_process(build_pipeline(ctx).ingest, tmp_path / "spill")
    buffer = HitBuffer(sink)
    sink.open()
    assert sink.pending()
    buffer.flush_now()
    assert opens(ctx) == 4 and not sink.pending()


def test_batch_in_flight_at_a_crash_is_replayed_from_the_journal_once(ctx, tmp_path):
    """kill -9 while a batch is being written: its journal holds it; the next process
    adopts the journal and ingests the batch exactly once, committed or not."""
    pipeline = build_pipeline(ctx)
    hits = campaign_hits(ctx, 6)
    crashed = in_process(pipeline.ingest, tmp_path / "spill")
    crashed.journal.write(Batch("inflight-1", hits[:3]))
    crashed.journal.close()  # the process dies here: the lock goes, the batch stays on disk
    committed = in_process(pipeline.ingest, tmp_path / "spill")
    committed.journal.write(Batch("inflight-2", hits[3:]))
    pipeline.ingest(Batch("inflight-2", hits[3:]))  # committed, then killed
    committed.journal.close()
    assert len(list((tmp_path / "spill").glob("*-journal.jsonl"))) == 2

    restarted = in_process(pipeline.ingest, tmp_path / "spill")
    restarted.open()
    HitBuffer(restarted).flush_now()
    assert opens(ctx) == 6
    assert list((tmp_path / "spill").glob("*.jsonl")) == []


def test_handoff_buffer_only_appends_and_the_worker_ingests_each_batch_once(ctx):
    """Hand-off mode: the serving side writes batches to its file and never to the database;
    the worker tails the live file, a restarted worker re-reads it without counting anything
    twice, and once the writer is gone the rest (a torn last line counted) is ingested and
    the file removed."""
    sink = FileQueueSink(ctx.settings.data_dir / "spill")
    tracker = Tracker(ctx, sink=sink)
    pipeline = build_pipeline(ctx)
    hits = campaign_hits(ctx, 6)
    buffer = tracker.buffer
    for hit in hits[:4]:
        buffer.add(hit)
    buffer.flush_now()
    assert opens(ctx) == 0 and sink.delivered_batches == 1  # nothing ingested by the server
    first = IngestWorker(pipeline.ingest, ctx.settings.data_dir / "spill")
    assert first.pass_once() == 1  # the file was released: drained and removed
    assert opens(ctx) == 4 and list(first.directory.glob("*.jsonl")) == []

    live = SpillFiles(first.directory)
    live.append(Batch("live-1", hits[4:5]))
    assert first.pass_once() == 1 and opens(ctx) == 5  # tailed while its writer lives
    restarted = IngestWorker(pipeline.ingest, first.directory)
    restarted.pass_once()  # reads the file from the top: live-1 is skipped by its id
    assert opens(ctx) == 5
    live.append(Batch("live-2", hits[5:]))
    assert live.current is not None
    with live.current.open("a") as handle:
        handle.write('{"id": "live-3", "hits": [["perso')  # killed mid-write
    assert restarted.pass_once() == 1 and restarted.unreadable == 0  # torn line not yet read
    live.close()  # the writer dies
    restarted.pass_once()
    assert restarted.unreadable == 1
    assert opens(ctx) == 6 and len(rows(ctx, "personal_events")) == 6
    assert list(first.directory.glob("*.jsonl")) == []
