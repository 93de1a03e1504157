"""The write-behind buffer: a full buffer counts its drops, spill files replay in order and
exactly once, a torn last line (kill -9 while writing) is skipped and counted, and a spill
file left by a stopped process is adopted by the next one."""

from __future__ import annotations

from clearpixel.domain.events import Hit, HitSource, Verdict
from clearpixel.ingest.buffer import HitBuffer, SpillFiles
from clearpixel.ingest.pipeline import Batch
from clearpixel.ingest.tracker import Tracker
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
    tracker = Tracker(ctx)
    buffer = HitBuffer(tracker.pipeline.ingest, tmp_path / "spill", capacity=2)
    for hit in campaign_hits(ctx, 5):
        buffer.add(hit)
    buffer.flush_now()
    assert opens(ctx) == 2
    assert {r["reason"]: r["n"] for r in rows(ctx, "hit_drops")} == {"buffer_full": 3}


def test_spill_replays_in_order_once_and_skips_a_torn_line(ctx, tmp_path):
    tracker = Tracker(ctx)
    hits = campaign_hits(ctx, 6)
    spill = SpillFiles(tmp_path / "spill")
    first, second = Batch("run-1", hits[:3]), Batch("run-2", hits[3:])
    spill.append(first)
    spill.append(second)
    spill.append(first)  # a batch spilled twice (commit in doubt) is applied once
    assert spill._own is not None
    with spill._own.open("a") as handle:
        handle.write('{"id": "run-3", "hits": [["perso')  # killed mid-write
    tracker.pipeline.ingest(first)  # the first one had in fact been committed
    replayed = spill.replay(tracker.pipeline.ingest)
    assert replayed == 3 and spill.unreadable == 1
    assert not spill.pending() and list((tmp_path / "spill").glob("*.jsonl")) == []
    assert opens(ctx) == 6
    assert len(rows(ctx, "personal_events")) == 6


def test_spill_file_of_a_stopped_process_is_adopted(ctx, tmp_path):
    tracker = Tracker(ctx)
    hits = campaign_hits(ctx, 4)
    old = SpillFiles(tmp_path / "spill")
    old.append(Batch("old-1", hits))
    old.close()  # the process is gone: its lock is free
    buffer = HitBuffer(tracker.pipeline.ingest, tmp_path / "spill")
    buffer.spill.adopt_orphans()
    assert buffer.spill.pending()
    buffer.flush_now()
    assert opens(ctx) == 4 and not buffer.spill.pending()


def test_batch_in_flight_at_a_crash_is_replayed_from_the_journal_once(ctx, tmp_path):
    """kill -9 while a batch is being written: its journal holds it; the next process
    adopts the journal and ingests the batch exactly once, committed or not."""
    tracker = Tracker(ctx)
    hits = campaign_hits(ctx, 6)
    crashed = HitBuffer(tracker.pipeline.ingest, tmp_path / "spill")
    crashed.journal.write(Batch("inflight-1", hits[:3]))  # the process dies here
    assert crashed.journal._handle is not None
    crashed.journal._handle.close()
    committed = HitBuffer(tracker.pipeline.ingest, tmp_path / "spill")
    committed.journal.write(Batch("inflight-2", hits[3:]))
    tracker.pipeline.ingest(Batch("inflight-2", hits[3:]))  # committed, then killed
    assert committed.journal._handle is not None
    committed.journal._handle.close()

    restarted = HitBuffer(tracker.pipeline.ingest, tmp_path / "spill")
    restarted.spill.adopt_orphans()
    restarted.flush_now()
    restarted.journal.close()
    assert opens(ctx) == 6
    assert list((tmp_path / "spill").glob("*.jsonl")) == []


def test_handoff_buffer_only_appends_and_the_worker_ingests_each_batch_once(ctx):
    """Hand-off mode: the serving side writes batches to its file and never to the database;
    the worker tails the live file, a restarted worker re-reads it without counting anything
    twice, and once the writer is gone the rest (a torn last line counted) is ingested and
    the file removed."""
    tracker = Tracker(ctx, handoff=True)
    hits = campaign_hits(ctx, 6)
    buffer = tracker.buffer
    for hit in hits[:4]:
        buffer.add(hit)
    buffer.flush_now()
    assert opens(ctx) == 0 and buffer.spilled_batches == 1  # nothing ingested by the server
    first = IngestWorker(tracker.pipeline.ingest, ctx.settings.data_dir / "spill")
    assert first.pass_once() == 1  # the file was released: drained and removed
    assert opens(ctx) == 4 and list(first.directory.glob("*.jsonl")) == []

    live = SpillFiles(first.directory)
    live.append(Batch("live-1", hits[4:5]))
    assert first.pass_once() == 1 and opens(ctx) == 5  # tailed while its writer lives
    restarted = IngestWorker(tracker.pipeline.ingest, first.directory)
    restarted.pass_once()  # reads the file from the top: live-1 is skipped by its id
    assert opens(ctx) == 5
    live.append(Batch("live-2", hits[5:]))
    assert live._own is not None
    with live._own.open("a") as handle:
        handle.write('{"id": "live-3", "hits": [["perso')  # killed mid-write
    assert restarted.pass_once() == 1 and restarted.unreadable == 0  # torn line not yet read
    live.close()  # the writer dies
    restarted.pass_once()
    assert restarted.unreadable == 1
    assert opens(ctx) == 6 and len(rows(ctx, "personal_events")) == 6
    assert list(first.directory.glob("*.jsonl")) == []
