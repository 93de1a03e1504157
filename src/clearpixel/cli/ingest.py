"""`clearpixel ingest`: the ingest worker, of the local file queue (`serve --ingest-process`)
or of the JetStream hit stream (`--from nats://...`), and `clearpixel ingest dead-letters`."""

from __future__ import annotations

from typing import Annotated

import typer

from clearpixel.cli.base import ClearpixelGroup, app, console, context, print_json
from clearpixel.domain.errors import ClearpixelError

ingest_app = typer.Typer(
    cls=ClearpixelGroup,
    help="Ingest hits: the worker (until SIGTERM), and the dead letters of the hit stream.",
    invoke_without_command=True,
)
app.add_typer(ingest_app, name="ingest")


class UnknownDeadLetter(ClearpixelError, LookupError):
    """No dead letter has that batch id."""


@ingest_app.callback()
def ingest(
    invocation: typer.Context,
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="nats://host:4222: consume the JetStream hit stream (several workers may "
            "run at once). Default: the local file queue of `serve --ingest-process`.",
        ),
    ] = None,
    parent: Annotated[
        int | None,
        typer.Option(help="Stop (after a last drain) once this process has exited.", hidden=True),
    ] = None,
) -> None:
    """Ingest the hits that serving processes hand off, until SIGTERM."""
    if invocation.invoked_subcommand is not None:
        return
    import signal

    with context() as ctx:
        if source is not None:
            from clearpixel.ingest.nats_worker import NatsIngestWorker
            from clearpixel.ingest.tracker import build_pipeline

            if not source.startswith(("nats://", "tls://")):
                raise ClearpixelError(f"--from {source}: expected nats://host:port")
            settings = ctx.settings.model_copy(update={"nats_url": source})
            nats_worker = NatsIngestWorker(
                build_pipeline(ctx).ingest, ctx.db, settings, now=ctx.now
            )
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: nats_worker.stop())
            nats_worker.run()
            return
        from clearpixel.ingest.tracker import build_worker
        from clearpixel.ingest.worker import parent_gone

        worker = build_worker(ctx)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: worker.stop())
        worker.run(until=parent_gone(parent) if parent is not None else lambda: False)


@ingest_app.command("dead-letters")
def dead_letters(
    replay: Annotated[
        str | None,
        typer.Option("--replay", help="Apply this dead letter now (by batch id) and remove it."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the hit batches ingest workers could not apply, or replay one by its id."""
    from clearpixel.ingest.nats_worker import listed_dead_letters, replay_dead_letter
    from clearpixel.ingest.tracker import build_pipeline

    with context() as ctx:
        if replay is not None:
            try:
                batch = replay_dead_letter(build_pipeline(ctx).ingest, ctx.db, replay)
            except LookupError as exc:
                raise UnknownDeadLetter(f"no dead letter has the batch id {replay!r}") from exc
            console.print(f"batch {batch.id} replayed: {len(batch.hits)} hits ingested")
            return
        letters = listed_dead_letters(ctx.db)
    if as_json:
        print_json(letters)
        return
    if not letters:
        console.print("no dead letters")
    for letter in letters:
        console.print(
            f"{letter['batch_id']}  {letter['at']:%Y-%m-%d %H:%M:%S}  "
            f"{letter['deliveries']} deliveries  {letter['error']}",
            markup=False,
        )
