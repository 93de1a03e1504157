"""Ingest that is watched: with `serve --ingest-process` a killed worker is started again
and catches up; `/healthz` reports how far ingest is behind and goes degraded when the
oldest hit not yet ingested is too old; it never shows where the database is."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
from pathlib import Path

from fastapi.testclient import TestClient

from clearpixel.context import Context
from clearpixel.ingest.sinks import FileQueueSink
from clearpixel.ingest.tracker import build_worker, spill_dir
from clearpixel.store import Database
from clearpixel.web.app import create_app
from clearpixel.web.server import ThreadedServer
from tests.web.served import serve
from tests.web.test_tracking_faults import Load, ingested, setup_campaign, wait_until
from tests.web.tracking_support import eventually


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(x) for x in text]
    return found


def health(port: int) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_a_killed_ingest_worker_is_started_again_and_catches_up(ctx, cli_env, tmp_path):
    paths = setup_campaign(ctx)
    with serve(cli_env, tmp_path, "--ingest-process") as served:
        wait_until(lambda: len(children(served.pid)) == 1)
        (first,) = children(served.pid)
        with Load(served.port, paths) as load:
            wait_until(lambda: load.ok >= 200 and ingested(ctx) >= 100)
            os.kill(first, signal.SIGKILL)
            seen = load.ok
            wait_until(lambda: load.ok >= seen + 300)
        wait_until(lambda: children(served.pid) not in ([], [first]))
        wait_until(lambda: ingested(ctx) == load.ok)
        assert load.bad == 0
        status, body = health(served.port)
        assert status == 200 and body["ingest"]["mode"] == "process"
        served.proc.send_signal(signal.SIGTERM)
        served.proc.wait(timeout=60)
    assert ingested(ctx) == load.ok
    assert "starting it again" in served.log.read_text()


def test_healthz_goes_degraded_while_handed_off_hits_wait_and_recovers(ctx):
    paths = setup_campaign(ctx, n=5)
    settings = ctx.settings.model_copy(update={"ingest_lag_seconds": 0.5})
    served = Context(settings=settings, db=ctx.db, now=ctx.now)
    server = ThreadedServer(served, sink=FileQueueSink(spill_dir(served)))
    with server:
        assert health(server.port)[0] == 200
        with Load(server.port, paths, threads=1) as load:
            wait_until(lambda: load.ok >= 50)
        # no worker: the hits wait in the spill file
        _, body = eventually(
            lambda: (r := health(server.port))[1]["ingest"]["unprocessed_bytes"] > 0 and r
        )
        assert body["status"] == "degraded" and body["database"] == "ok"
        assert body["ingest"]["oldest_unprocessed_seconds"] > 0.5
        worker = build_worker(ctx)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            wait_until(lambda: ingested(ctx) == load.ok)
            _, body = eventually(lambda: (r := health(server.port))[0] == 200 and r)
            assert body["ingest"]["unprocessed_bytes"] == 0
        finally:
            worker.stop()
            thread.join(30)


def test_healthz_never_shows_where_the_database_is(ctx):
    hidden = "postgresql+psycopg://secretuser:secretpass@127.0.0.1:1/secretdbname"
    broken = Context(settings=ctx.settings, db=Database(hidden), now=ctx.now)
    with TestClient(create_app(broken)) as client:
        response = client.get("/healthz")
    broken.db.dispose()
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    for secret in ("secret", "127.0.0.1", ":1", "psycopg", "postgres", "sqlite", "connection"):
        assert secret not in response.text
