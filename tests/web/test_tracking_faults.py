"""Faults on the hit path over real HTTP: the database unreachable under load (every hit
answered, then every hit ingested exactly once from the spill file), with ingest in a thread
of the server and in a worker beside it, and SIGTERM under load to a `clearpixel serve`
process, with and without `--ingest-process` (zero loss)."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clearpixel.ingest.sinks import FileQueueSink
from clearpixel.ingest.tracker import build_worker, spill_dir
from clearpixel.web.server import ThreadedServer
from clearpixel.web.tracking import GIF
from tests.conftest import fresh_database
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import make_campaign, make_send, pixel_token, rows
from tests.private_postgres import PrivatePostgres
from tests.web.tracking_support import eventually

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"


def setup_campaign(ctx, n: int = 20) -> list[str]:
    list_id = make_list(ctx)
    contacts = make_contacts(ctx, list_id, [1] * n)
    campaign_id, _ = make_campaign(ctx, list_id)
    for contact in contacts:
        make_send(ctx, campaign_id, contact)
    return [f"/o/{pixel_token(ctx, campaign_id, c)}.gif" for c in contacts]


class Load:
    """Threads sending pixel requests on keep-alive connections until stopped or refused."""

    def __init__(self, port: int, paths: list[str], threads: int = 3) -> None:
        self.port = port
        self.paths = paths
        self.ok = 0
        self.bad = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _run(self, offset: int) -> None:
        deadline = time.monotonic() + 60  # bounded whatever happens
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            self._loop(conn, offset, deadline)
        finally:
            conn.close()

    def _loop(self, conn: http.client.HTTPConnection, i: int, deadline: float) -> None:
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                conn.request("GET", self.paths[i % len(self.paths)], headers={"User-Agent": UA})
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                return  # the server closed or refused: this request was never answered
            with self.lock:
                if response.status == 200 and body == GIF:
                    self.ok += 1
                else:
                    self.bad += 1
            i += 1


def ingested(ctx) -> int:
    return sum(r["n"] for r in rows(ctx, "hit_counters"))


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    assert eventually(check, timeout=timeout), "condition not reached in time"


def spilled(directory: Path) -> list[Path]:
    """Spill files (not the journal of the batch being written)."""
    return [p for p in directory.glob("*.jsonl") if not p.name.endswith("-journal.jsonl")]


def run_outage(ctx, server, paths, break_db: Callable[[], None], restore_db: Callable[[], None]):
    spill = Path(ctx.settings.data_dir) / "spill"
    with Load(server.port, paths) as load:
        wait_until(lambda: load.ok >= 200)
        break_db()
        try:
            seen = load.ok
            wait_until(lambda: bool(spilled(spill)) and load.ok >= seen + 300)
        finally:
            restore_db()
        seen = load.ok
        wait_until(lambda: load.ok >= seen + 200)
    assert load.bad == 0
    wait_until(lambda: ingested(ctx) >= load.ok)
    time.sleep(0.3)  # one more flush interval: anything extra would be a duplicate
    assert ingested(ctx) == load.ok
    assert len(rows(ctx, "personal_events")) == load.ok
    if server.sink.mode == "thread":
        assert spilled(spill) == []  # (in hand-off mode the server's file is the queue)


@pytest.fixture(params=["ingest-thread", "ingest-process"])
def outage_server(request, ctx) -> Iterator[ThreadedServer]:
    """The app over real HTTP, ingesting in a thread of the server, or handing its batches
    off to an ingest worker (here a thread beside it; in production `clearpixel ingest`)."""
    if request.param == "ingest-thread":
        with ThreadedServer(ctx) as server:
            yield server
        return
    server = ThreadedServer(ctx, sink=FileQueueSink(spill_dir(ctx)))
    worker = build_worker(ctx)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        with server:
            yield server
    finally:
        worker.stop()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert spilled(Path(ctx.settings.data_dir) / "spill") == []  # all drained, then removed


def test_sqlite_unreachable_under_load_loses_and_repeats_nothing(ctx, outage_server, tmp_path):
    if ctx.db.is_postgres:
        pytest.skip("SQLite variant")
    paths = setup_campaign(ctx)
    db_file = Path(ctx.db.url.removeprefix("sqlite:///"))
    aside = tmp_path / "aside"
    aside.mkdir()
    moved: list[Path] = []

    def break_db() -> None:
        for suffix in ("", "-wal", "-shm"):
            path = Path(f"{db_file}{suffix}")
            if path.exists():
                shutil.move(path, aside / path.name)
                moved.append(path)
        db_file.mkdir()  # a directory where the database was: it cannot be opened
        ctx.db.dispose()

    def restore_db() -> None:
        db_file.rmdir()
        for path in moved:
            shutil.move(aside / path.name, path)
        ctx.db.dispose()

    run_outage(ctx, outage_server, paths, break_db, restore_db)


@pytest.fixture
def database_url(request, tmp_path) -> Iterator[str]:
    """The test's database; the test that stops PostgreSQL gets a server of its own, so the
    shared one (and every suite using it) is never touched."""
    if request.node.get_closest_marker("postgres_only") is None:
        with fresh_database(tmp_path) as url:
            yield url
        return
    with PrivatePostgres() as server:
        request.node.private_postgres = server
        yield server.url


@pytest.mark.postgres_only
def test_postgres_stopped_under_load_loses_and_repeats_nothing(request, ctx, outage_server):
    server: PrivatePostgres = request.node.private_postgres
    paths = setup_campaign(ctx)

    def restore_db() -> None:
        server.start()
        wait_until(
            lambda: (
                subprocess.run(
                    ["pg_isready", "-h", "127.0.0.1", "-p", str(server.port), "-q"], check=False
                ).returncode
                == 0
            )
        )

    run_outage(ctx, outage_server, paths, server.stop, restore_db)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("mode", [[], ["--ingest-process"]], ids=["thread", "process"])
def test_sigterm_under_load_loses_nothing(ctx, cli_env, tmp_path, mode):
    paths = setup_campaign(ctx)
    port = free_port()
    exe = Path(sys.executable).parent / "clearpixel"
    env = {**os.environ, **cli_env}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), *mode],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return proc.poll() is not None

        wait_until(up)
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        with Load(port, paths, threads=4) as load:
            wait_until(lambda: load.ok >= 500)
            wait_until(lambda: ingested(ctx) >= 300)  # ingested while serving, in either mode
            wait_until(lambda: load.ok >= 1000)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert proc.returncode in (0, -signal.SIGTERM), (tmp_path / "serve.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert load.bad == 0 and load.ok >= 1000
    # with --ingest-process, serve exits once its worker has drained what it handed off
    assert ingested(ctx) == load.ok
    assert len(rows(ctx, "personal_events")) == load.ok
    assert spilled(Path(ctx.settings.data_dir) / "spill") == []
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
