"""The local ingest worker, `clearpixel ingest`, run as the real command: it tails the file
queue that a serving process in hand-off mode writes, applies each batch exactly once (a
batch read twice is counted once), removes what it has committed, reports its progress for
/healthz, and drains and exits cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clearpixel.domain.events import Hit, HitSource, Verdict
from clearpixel.ingest.lag import PROGRESS_FILE
from clearpixel.ingest.pipeline import Batch
from clearpixel.ingest.sinks import FileQueueSink
from clearpixel.ingest.tracker import spill_dir
from clearpixel.web.server import ThreadedServer
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import make_campaign, make_send, rows
from tests.web.test_tracking_faults import Load, ingested, setup_campaign, wait_until


@contextmanager
def ingest_command(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`clearpixel ingest` in a process of its own; SIGTERM and wait for it after."""
    exe = Path(sys.executable).parent / "clearpixel"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(exe), "ingest"], env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def queue_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.jsonl"))


def test_the_ingest_command_tails_the_file_queue_and_stops_cleanly(ctx, cli_env, tmp_path):
    paths = setup_campaign(ctx, n=5)
    queue = spill_dir(ctx)
    server = ThreadedServer(ctx, sink=FileQueueSink(queue))
    with server, ingest_command(cli_env, tmp_path / "ingest.log") as worker:
        with Load(server.port, paths, threads=1) as load:
            wait_until(lambda: load.ok >= 20)
        wait_until(lambda: ingested(ctx) == load.ok)  # what was queued before and while it ran
        first = load.ok
        with Load(server.port, paths, threads=1) as more:  # and what comes after
            wait_until(lambda: more.ok >= 10)
        wait_until(lambda: ingested(ctx) == first + more.ok)
        wait_until(lambda: queue_files(queue) == [])  # committed batches leave the disk
        progress = json.loads((queue / PROGRESS_FILE).read_text())
        assert progress["at"] > 0
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    assert ingested(ctx) == first + more.ok
    assert len(rows(ctx, "personal_events")) == first + more.ok


def test_a_batch_queued_twice_is_applied_once(ctx, cli_env, tmp_path):
    list_id = make_list(ctx)
    (contact,) = make_contacts(ctx, list_id, [1])
    campaign_id, _ = make_campaign(ctx, list_id)
    make_send(ctx, campaign_id, contact)
    hit = Hit(
        source=HitSource.PERSONAL,
        at=ctx.now().timestamp(),
        campaign_id=campaign_id,
        contact_id=contact,
        verdict=Verdict.HUMAN,
    )
    queue = spill_dir(ctx)
    sink = FileQueueSink(queue)
    sink.put(Batch("batch-once", [hit, hit]))
    sink.close()
    (written,) = queue_files(queue)
    shutil.copy(written, queue / ("9" + written.name))  # the same batch again, another file
    with ingest_command(cli_env, tmp_path / "ingest.log") as worker:
        wait_until(lambda: queue_files(queue) == [])
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    assert ingested(ctx) == 2
    assert len(rows(ctx, "personal_events")) == 2
