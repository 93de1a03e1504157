"""`clearpixel ingest`: the ingest worker of `clearpixel serve --ingest-process`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from clearpixel.cli.base import app, context

if TYPE_CHECKING:
    pass


@app.command("ingest")
def ingest(
    parent: Annotated[
        int | None,
        typer.Option(help="Stop (after a last drain) once this process has exited.", hidden=True),
    ] = None,
) -> None:
    """Ingest the hits that `clearpixel serve --ingest-process` hands off, until SIGTERM."""
    import signal

    from clearpixel.ingest.tracker import build_worker
    from clearpixel.ingest.worker import parent_gone

    with context() as ctx:
        worker = build_worker(ctx)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: worker.stop())
        worker.run(until=parent_gone(parent) if parent is not None else lambda: False)
