"""`clearpixel serve`: the web app (tracking, consent pages, admin UI, API) under uvicorn.

With `--ingest-process` the serving process only verifies, classifies and appends hits to its
spill file; a child `clearpixel ingest --parent PID` applies them to the database, so ingest
never competes with answering for the interpreter. At shutdown, after the last flush, serve
stops the child and waits while it drains (a SIGTERM to serve loses nothing); a child whose
server died (kill -9) drains and exits on its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from clearpixel.cli.base import app, console, context, err_console

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


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    ingest_process: bool = typer.Option(
        False,
        "--ingest-process",
        help="Ingest hits in a child process (`clearpixel ingest`) instead of a thread.",
    ),
) -> None:
    """Serve tracking endpoints, consent and preference pages, the admin UI and the API."""
    import uvicorn

    from clearpixel.web.app import create_app
    from clearpixel.web.server import server_config

    with context() as ctx:
        web = create_app(ctx)
        lines, warnings = startup_lines(ctx.settings.base_url, host, port)
        for line in lines:
            console.print(line)
        for warning in warnings:
            err_console.print(f"[bold yellow]warning:[/] {warning}")
        if ingest_process:
            # its own session: a signal to this process group reaches the server only; the
            # server stops the worker after its last flush and waits while it drains
            worker = subprocess.Popen(  # noqa: S603 (our own executable, fixed arguments)
                [*_ingest_command(), "ingest", "--parent", str(os.getpid())],
                start_new_session=True,
            )

            def stop_worker() -> None:
                worker.terminate()
                worker.wait()

            web.tracker.tracker.hand_off(after_stop=stop_worker)
        uvicorn.Server(server_config(web, host=host, port=port)).run()
