"""`clearpixel ledger verify|checkpoint|public-key`, and the checkpoint options that
`flags check` shares."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clearpixel.cli.base import context, ledger_app, say

if TYPE_CHECKING:
    from clearpixel.consent.checkpoints import Found

# Services (and through them the store, SQLAlchemy and Alembic) are imported inside the
# commands: Typer needs only the signatures, so `clearpixel --help` starts without them.


CheckpointFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--checkpoints",
        help="A checkpoint file or folder to check the ledger against, besides the "
        "installation's own (repeat for more).",
    ),
]
PublicKeys = Annotated[
    list[Path] | None,
    typer.Option(
        "--public-key",
        help="Trust only checkpoints signed by this public key (PEM; repeat for more). "
        "Default: the installation's own key.",
    ),
]


def gathered_checkpoints(extra: list[Path] | None, keys: list[Path] | None) -> list[Found]:
    from clearpixel.config import load_settings
    from clearpixel.consent.checkpoints import gather

    return gather(load_settings(), extra or [], public_keys=keys or [])


@ledger_app.command("verify")
def ledger_verify(checkpoints: CheckpointFiles = None, public_key: PublicKeys = None) -> None:
    """Verify the consent ledger's hash chain, its head and every signed checkpoint (the
    installation's own and those given); exit 1 naming the first fault."""
    from clearpixel.consent.integrity import verify_ledger

    found = gathered_checkpoints(checkpoints, public_key)
    with context() as ctx:
        report = verify_ledger(ctx, checkpoints=found)
    if report.fault:
        where = f" at seq {report.fault.seq}" if report.fault.seq else ""
        say(f"ledger verify failed{where}: {report.fault.problem}", err=True)
        raise typer.Exit(code=1)
    anchored = (
        f", agrees with {report.checkpoints} signed checkpoint(s)"
        if report.checkpoints
        else "; no signed checkpoint to compare with (run `clearpixel ledger checkpoint`)"
    )
    say(f"ledger verify: {report.entries} entries, chain intact{anchored}")
    for note in report.notes():
        say(f"  {note}")


@ledger_app.command("checkpoint")
def ledger_checkpoint(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", help="Also write the checkpoint to this file (to keep elsewhere)."
        ),
    ] = None,
) -> None:
    """Sign the ledger head now, write the checkpoint to the checkpoint folder and print it
    (JSON) for a data-protection officer or a third party to keep."""
    from clearpixel.consent.checkpoints import write_checkpoint

    with context() as ctx:
        checkpoint, path = write_checkpoint(ctx)
    if output is not None:
        output.write_text(checkpoint.to_json())
    say(f"checkpoint of entry {checkpoint.seq} written to {path}", err=True)
    typer.echo(checkpoint.to_json(), nl=False)


@ledger_app.command("public-key")
def ledger_public_key() -> None:
    """Print the public key (PEM) that checks this installation's ledger checkpoints."""
    from clearpixel.config import load_settings
    from clearpixel.consent.checkpoints import load_private_key, public_key_pem

    key = load_private_key(load_settings()).public_key()
    typer.echo(public_key_pem(key).decode(), nl=False)
