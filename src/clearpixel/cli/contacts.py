"""`clearpixel contacts import|export`."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from clearpixel.cli.base import ProgressBar, contacts_app, context, say

# Services (and through them the store, SQLAlchemy and Alembic) are imported inside the
# commands: Typer needs only the signatures, so `clearpixel --help` starts without them.


class FlagsChoice(StrEnum):
    """`--flags` of `contacts import`: the values of audience.csv_import.FlagsMode."""

    MERGE = "merge"
    REPLACE = "replace"
    IGNORE = "ignore"


class FormatChoice(StrEnum):
    """`--format` of `contacts export`: the values of audience.export.ExportFormat."""

    CSV = "csv"
    JSON = "json"


@contacts_app.command("import")
def contacts_import(
    file: Annotated[Path, typer.Argument(help="CSV file: email, privacy_flags, other columns.")],
    list_name: Annotated[str, typer.Option("--list", help="The list to import into.")],
    flags: Annotated[
        FlagsChoice,
        typer.Option(
            "--flags",
            help="merge: OR the file's bits in (never clears); replace: set exactly the "
            "file's value; ignore: leave flags alone. An empty cell leaves a contact's flags "
            "as they are.",
        ),
    ] = FlagsChoice.MERGE,
    basis: Annotated[
        str,
        typer.Option(
            "--basis", help="Legal basis of the consent the file grants (required if it grants)."
        ),
    ] = "",
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the good rows, leave out the bad ones.")
    ] = False,
    rejected: Annotated[
        Path | None,
        typer.Option("--rejected", help="Write bad rows, with a reason column, to this CSV file."),
    ] = None,
) -> None:
    """Import contacts from a CSV file; every flags change is a ledger entry (method import)."""
    from clearpixel.audience.csv_import import FlagsMode, ImportRefused, import_csv

    try:
        with context() as ctx, ProgressBar() as bar:
            report = import_csv(
                ctx,
                file,
                list_name=list_name,
                flags_mode=FlagsMode(flags.value),
                basis=basis,
                skip_invalid=skip_invalid,
                rejected_path=rejected,
                progress=bar.update,
            )
    except ImportRefused as exc:
        say(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    say(
        f"imported {file.name} (sha256 {report.source_sha256[:16]}…) into {list_name!r}: "
        f"{report.rows - report.rejected} rows, {report.created} created, "
        f"{report.updated} updated, {report.flags_changed} flags changes logged"
        + (
            f"; {report.skipped_refused} skipped: refused or withdrawn by the contact"
            if report.skipped_refused
            else ""
        )
    )
    if report.rejected:
        where = f", written to {rejected}" if rejected else ""
        say(f"{report.rejected} bad row(s) left out{where}:", err=True)
        for error in report.errors:
            say(f"  line {error.line}: {error.reason}", err=True)


@contacts_app.command("export")
def contacts_export(
    list_name: Annotated[str, typer.Option("--list", help="The list to export.")],
    fmt: Annotated[FormatChoice, typer.Option("--format", help="csv or json.")] = (
        FormatChoice.CSV
    ),
    output: Annotated[
        Path | None, typer.Option("--output", help="File to write (default stdout).")
    ] = None,
) -> None:
    """Export a list's contacts: email, privacy_flags (empty when never asked), status,
    attributes."""
    from clearpixel.audience.export import ExportFormat, export_contacts

    chosen = ExportFormat(fmt.value)
    with context() as ctx:
        if output is None:
            count = export_contacts(ctx, sys.stdout, list_name=list_name, fmt=chosen)
        else:
            with output.open("w", encoding="utf-8", newline="") as handle:
                count = export_contacts(ctx, handle, list_name=list_name, fmt=chosen)
            say(f"exported {count} contacts to {output}")
