"""`clearpixel serve`: the web app (tracking, consent pages, admin UI, API) under uvicorn.

With `--ingest-process` the serving process only verifies, classifies and appends hits to its
spill file; a child `clearpixel ingest --parent PID` applies them to the database, so ingest
never competes with answering for the interpreter. At shutdown, after the last flush, serve
stops the child and waits while it drains (a SIGTERM to serve loses nothing); a child whose
server died (kill -9) drains and exits on its own. A child that dies while serve runs (killed,
crashed) is started again after a second: its spill files are its queue, so nothing is lost,
and each batch id is applied once.

With CLEARPIXEL_NATS_URL the batches go to NATS JetStream instead, for `clearpixel ingest
--from nats://...` workers; `--role tracking` serves only the tracking paths, with no database
(web/tracking_node.py, docs/deployment.md)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clearpixel.cli.base import app, console, context, err_console

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from clearpixel.context import Context
    from clearpixel.web.tracking_node import TrackingNode

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})  # noqa: S104 - names only


def startup_lines(base_url: str, host: str, port: int) -> tuple[list[str], list[str]]:
    """(what serve prints, warnings): the URLs it answers on, and a warning when
    CLEARPIXEL_BASE_URL, which every link in every email uses, does not point at it."""
    from urllib.parse import urlsplit

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - names only
    here = f"http://{shown}:{port}"
    lines = [
        f"clearpixel answers on {here} (listening on {host}:{port})",
        f"  admin UI        {here}/admin",
        f"  API and docs    {here}/api/v1/docs",
        f"  signup form     {here}/subscribe/LIST",
        f"  links in emails {base_url}",
    ]
    warnings = []
    target = urlsplit(base_url)
    target_port = target.port or (443 if target.scheme == "https" else 80)
    if (target.hostname or "") in LOOPBACK or target.hostname == host:
        if target_port != port:
            warnings.append(
                f"CLEARPIXEL_BASE_URL is {base_url}, but this server answers on port {port}: "
                "pixels, clicks and consent links in emails would not reach it; set "
                f"CLEARPIXEL_BASE_URL={here} (or the public URL that proxies to it)"
            )
    else:
        warnings.append(
            f"emails link to {base_url}: make sure it reaches this server (a reverse proxy "
            f"to {here}), or pixels, clicks and consent links will not arrive"
        )
    return lines, warnings


def _ingest_command() -> list[str]:
    exe = Path(sys.argv[0])
    if exe.name == "clearpixel" and exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from clearpixel.cli import main; main()"]


log = logging.getLogger("clearpixel.serve")


class IngestSupervisor:
    """Runs the ingest worker (`clearpixel ingest --parent PID`) in its own session and
    starts it again whenever it exits while serving."""

    def __init__(self, command: list[str], *, restart_after: float = 1.0) -> None:
        self.command = command
        self.restart_after = restart_after
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.restarts = 0
        self.process = self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="ingest-supervisor", daemon=True)
        self._watcher.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        # its own session: a signal to this process group reaches the server only; the
        # server stops the worker after its last flush and waits while it drains
        return subprocess.Popen(self.command, start_new_session=True)  # noqa: S603

    def _watch(self) -> None:
        while True:
            with self._lock:
                process = self.process
            code = process.wait()
            if self.stopping.wait(self.restart_after):
                return
            log.warning("the ingest worker exited (%s); starting it again", code)
            with self._lock:
                if self.stopping.is_set():
                    return
                self.process = self._spawn()
                self.restarts += 1

    def stop(self) -> None:
        """Stop the worker and wait while it drains what was handed off."""
        self.stopping.set()
        with self._lock:
            process = self.process
        process.terminate()
        process.wait()


class Role(StrEnum):
    ALL = "all"
    TRACKING = "tracking"


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    ingest_process: bool = typer.Option(
        False,
        "--ingest-process",
        help="Ingest hits in a child process (`clearpixel ingest`) instead of a thread.",
    ),
    role: Annotated[
        Role,
        typer.Option(
            "--role",
            help="all: the whole app. tracking: only /o/, /c/, /healthz and /metrics, with no "
            "database: batches go to NATS JetStream (CLEARPIXEL_NATS_URL), links come from it.",
        ),
    ] = Role.ALL,
) -> None:
    """Serve tracking endpoints, consent and preference pages, the admin UI and the API.

    Where hits go follows the configuration: with CLEARPIXEL_NATS_URL they are published to
    JetStream for `clearpixel ingest --from nats://...` workers; otherwise this process
    ingests them (in a thread, or in a child process with --ingest-process)."""
    import uvicorn

    from clearpixel.web.server import server_config

    if role is Role.TRACKING:
        from clearpixel.web.tracking_server import TrackingServer

        node, lines = _tracking_node(host, port)
        for line in lines:
            console.print(line)
        raise typer.Exit(TrackingServer(node, host=host, port=port).run())
    with context() as ctx:
        web = _whole_app(ctx, ingest_process=ingest_process)
        lines, warnings = startup_lines(ctx.settings.base_url, host, port)
        for line in lines:
            console.print(line)
        for warning in warnings:
            err_console.print(f"[bold yellow]warning:[/] {warning}")
        uvicorn.Server(server_config(web, host=host, port=port)).run()


def _whole_app(ctx: Context, *, ingest_process: bool) -> ASGIApp:
    """The whole app with the sink its configuration names."""
    from clearpixel.ingest.sinks import BatchSink, FileQueueSink
    from clearpixel.ingest.tracker import spill_dir
    from clearpixel.web.app import create_app

    sink: BatchSink | None = None
    if ctx.settings.nats_url:
        from clearpixel.ingest.jetstream import NatsLink, jetstream_sink

        sink = jetstream_sink(ctx, NatsLink(ctx.settings.nats_url))
    elif ingest_process:
        worker = IngestSupervisor([*_ingest_command(), "ingest", "--parent", str(os.getpid())])
        sink = FileQueueSink(spill_dir(ctx), on_close=worker.stop)
    return create_app(ctx, sink=sink)


def _tracking_node(host: str, port: int) -> tuple[TrackingNode, list[str]]:
    """A tracking node: signing keys and NATS only, never the database."""
    from clearpixel.config import ConfigError, load_settings
    from clearpixel.context import open_context
    from clearpixel.ingest.jetstream import BucketLinks, NatsLink, jetstream_sink
    from clearpixel.web.tracking_node import TrackingNode

    settings = load_settings()
    if not settings.nats_url:
        raise ConfigError("serve --role tracking needs CLEARPIXEL_NATS_URL (e.g. nats://host:4222)")
    settings.signing_keys()  # fail now, not on the first hit
    ctx = open_context(settings, migrate=False)  # the database is never connected to
    link = NatsLink(settings.nats_url)
    web = TrackingNode(
        ctx,
        sink=jetstream_sink(ctx, link),
        links=BucketLinks(link, settings.nats_links_bucket),
    )
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - names only
    lines = [
        f"clearpixel tracking node answers on http://{shown}:{port} (/o/, /c/, /healthz, /metrics)",
        f"  publishes hit batches to {settings.nats_stream} at {settings.nats_url}",
    ]
    return web, lines
