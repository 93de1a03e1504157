"""A scaled-out deployment as separate processes: two tracking nodes (`serve --role
tracking`, no database reachable) and two ingest workers (`ingest --from nats://...`) on
NATS JetStream and PostgreSQL. 100,000 hits spread over both nodes are counted exactly once,
while one worker is killed (kill -9) in the middle of its batches and started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from clearpixel.context import Context
from clearpixel.sending.campaigns import publish_links_for_nodes
from clearpixel.web.tracking import GIF
from tests.conftest import TEST_KEY
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import click_url, make_campaign, make_send, pixel_url, rows
from tests.ingest.nats_helpers import (
    NO_DATABASE,
    get,
    remove_stream_and_bucket,
    wait_until,
    with_nats,
)
from tests.ingest.pipelined import pipelined
from tests.web.served import serve

pytestmark = pytest.mark.postgres_only

HITS = 100_000


def nats_env(ctx: Context) -> dict[str, str]:
    s = ctx.settings
    return {
        "CLEARPIXEL_SECRET_KEYS": TEST_KEY,
        "CLEARPIXEL_BASE_URL": s.base_url,
        "CLEARPIXEL_NATS_URL": s.nats_url,
        "CLEARPIXEL_NATS_STREAM": s.nats_stream,
        "CLEARPIXEL_NATS_SUBJECT": s.nats_subject,
        "CLEARPIXEL_NATS_CONSUMER": s.nats_consumer,
        "CLEARPIXEL_NATS_LINKS_BUCKET": s.nats_links_bucket,
        "CLEARPIXEL_NATS_ACK_WAIT_SECONDS": "3",
    }


@contextmanager
def ingest_worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`clearpixel ingest --from nats://...` in a process of its own; SIGTERM after."""
    exe = Path(sys.executable).parent / "clearpixel"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(exe), "ingest", "--from", env["CLEARPIXEL_NATS_URL"]],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)


@pytest.fixture
def nctx(ctx) -> Iterator[Context]:
    named = with_nats(ctx, nats_ack_wait_seconds=3)
    yield named
    remove_stream_and_bucket(named)


def counted(ctx: Context) -> int:
    return sum(int(r["n"]) for r in rows(ctx, "hit_counters"))


def test_two_nodes_and_two_workers_count_100000_hits_once_through_a_kill_9(nctx, tmp_path):
    list_id = make_list(nctx)
    contacts = make_contacts(nctx, list_id, [1] * 20)
    campaign_id, public_id = make_campaign(nctx, list_id)
    for contact in contacts:
        make_send(nctx, campaign_id, contact)
    publish_links_for_nodes(nctx, campaign_id)
    personal = [pixel_url(nctx, campaign_id, c) for c in contacts]
    paths = [personal[i % 20] if i % 10 == 0 else f"/o/a/{public_id}.gif" for i in range(HITS)]

    base = nats_env(nctx)
    node_env = {**base, "CLEARPIXEL_DATABASE_URL": NO_DATABASE}
    worker_env = {**base, "CLEARPIXEL_DATABASE_URL": nctx.settings.database_url}
    with (
        serve(
            {**node_env, "CLEARPIXEL_DATA_DIR": str(tmp_path / "n1")},
            tmp_path,
            "--role",
            "tracking",
        ) as one,
        serve(
            {**node_env, "CLEARPIXEL_DATA_DIR": str(tmp_path / "n2")},
            tmp_path,
            "--role",
            "tracking",
        ) as two,
    ):
        # no database anywhere near the nodes: pixels and known links still answer
        (click,) = get(one.port, [click_url(nctx, campaign_id, contacts[0], 2)])
        assert click[0] == 302 and click[1]["location"] == "https://example.org/about"
        half = HITS // 2
        answers = pipelined(one.port, paths[:half]) + pipelined(two.port, paths[half:])
        assert answers == [(200, GIF)] * HITS
        worker_log = tmp_path / "workers.log"
        w1_env = {**worker_env, "CLEARPIXEL_DATA_DIR": str(tmp_path / "w1")}
        w2_env = {**worker_env, "CLEARPIXEL_DATA_DIR": str(tmp_path / "w2")}
        with ingest_worker(w1_env, worker_log) as first:
            # it fetches several batches at a time: once the first is committed it holds
            # the next ones, not acknowledged
            wait_until(lambda: counted(nctx) > 0, timeout=120)
            first.send_signal(signal.SIGKILL)
            first.wait()
        assert 0 < counted(nctx) < HITS
        with ingest_worker(w1_env, worker_log), ingest_worker(w2_env, worker_log):
            wait_until(lambda: counted(nctx) >= HITS + 1, timeout=300)
            time.sleep(4)  # past the ack wait: a batch counted twice would show now
    assert counted(nctx) == HITS + 1  # and the click
    assert len(rows(nctx, "personal_events")) == HITS // 10 + 1
    # the batches the killed worker held were delivered again, to a live worker
    assert "delivered again (delivery 2)" in worker_log.read_text()
