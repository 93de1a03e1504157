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

from clearpixel.cli.base import app, context


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

    with context() as ctx:
        web = create_app(ctx)
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
        uvicorn.run(web, host=host, port=port, log_level="warning", access_log=False)
