"""`clearpixel flags grant|revoke|check`."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from clearpixel.cli.base import ProgressBar, context, flags_app, say
from clearpixel.cli.ledger import CheckpointFiles, PublicKeys, gathered_checkpoints

# Services (and through them the store, SQLAlchemy and Alembic) are imported inside the
# commands: Typer needs only the signatures, so `clearpixel --help` starts without them.


def _bulk(list_name: str, purpose: str, basis: str, only_null: bool, *, grant: bool) -> None:
    from clearpixel.consent.bulk import bulk_change

    with context() as ctx, ProgressBar() as bar:
        report = bulk_change(
            ctx,
            list_name=list_name,
            purpose=purpose,
            grant=grant,
            basis=basis,
            only_null=only_null,
            actor=f"cli:{getpass.getuser()}",
            progress=lambda done, total: bar.update("contacts", done, total),
        )
    verb = "granted" if grant else "revoked"
    say(
        f"{purpose} {verb} for {report.changed} contacts of {list_name!r} "
        f"({report.changed} ledger entries); {report.unchanged} already in that state, untouched"
        + (
            f"; {report.skipped_refused} skipped: refused or withdrawn by the contact"
            if report.skipped_refused
            else ""
        )
    )


_List = Annotated[str, typer.Option("--list", help="The list to change.")]
_Purpose = Annotated[str, typer.Option("--purpose", help="Purpose name, e.g. open_tracking.")]
_Basis = Annotated[
    str, typer.Option("--basis", help="Legal basis of the change (kept in the ledger).")
]
_OnlyNull = Annotated[
    bool, typer.Option("--only-null", help="Touch only contacts never asked (NULL).")
]


@flags_app.command("grant")
def flags_grant(
    list_name: _List, purpose: _Purpose, basis: _Basis, only_null: _OnlyNull = False
) -> None:
    """Grant a purpose to every contact of a list (NULL flags included), one ledger entry per
    contact that changes: COALESCE(privacy_flags, 0) | bit."""
    _bulk(list_name, purpose, basis, only_null, grant=True)


@flags_app.command("revoke")
def flags_revoke(
    list_name: _List, purpose: _Purpose, basis: _Basis, only_null: _OnlyNull = False
) -> None:
    """Revoke a purpose from every contact of a list that holds it (with --only-null: record
    a refusal, 0, for the contacts never asked)."""
    _bulk(list_name, purpose, basis, only_null, grant=False)


@flags_app.command("check")
def flags_check(checkpoints: CheckpointFiles = None, public_key: PublicKeys = None) -> None:
    """Prove fold(ledger) == privacy_flags for every contact, on a ledger that agrees with
    the signed checkpoints; exit 1 naming the first contact that differs or the
    contradiction."""
    from clearpixel.consent.integrity import check_flags

    found = gathered_checkpoints(checkpoints, public_key)
    with context() as ctx:
        report = check_flags(ctx, checkpoints=found)
    if report.checkpoint_problem:
        say(f"flags check failed: {report.checkpoint_problem}", err=True)
        raise typer.Exit(code=1)
    if report.mismatch:
        say(f"flags check failed: {report.mismatch.describe()}", err=True)
        raise typer.Exit(code=1)
    say(f"flags check: {report.contacts} contacts, fold(ledger) == flags for all")
