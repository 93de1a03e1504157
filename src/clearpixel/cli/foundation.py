"""`clearpixel init`, `lists`, `contacts import|export`, `flags grant|revoke|check`,
`ledger verify` and `consent show`."""

from __future__ import annotations

import getpass
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clearpixel.cli.base import (
    app,
    consent_app,
    console,
    contacts_app,
    context,
    err_console,
    flags_app,
    ledger_app,
    lists_app,
    print_json,
)

if TYPE_CHECKING:
    from rich.progress import TaskID

    from clearpixel.audience.checkpoints import Found

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


@app.command()
def init(
    db_owner: Annotated[
        str,
        typer.Option(
            "--db-owner",
            help="PostgreSQL: the role that owns the tables (not the application's role), so "
            "the application cannot drop the ledger's triggers. Needs --app-role.",
        ),
    ] = "",
    app_role: Annotated[
        str,
        typer.Option("--app-role", help="PostgreSQL: the role the application connects as."),
    ] = "",
) -> None:
    """Create the data folder, the signing keys and the database (safe to run again)."""
    from clearpixel.audience import lists as list_service
    from clearpixel.audience.checkpoints import ensure_ledger_key, public_key_path
    from clearpixel.audience.integrity import protect_ledger
    from clearpixel.config import ensure_secret_keys, load_settings
    from clearpixel.context import open_context

    if bool(db_owner) != bool(app_role):
        _say("error: --db-owner and --app-role go together", err=True)
        raise typer.Exit(code=2)
    settings = load_settings()
    key_file = ensure_secret_keys(settings)
    ledger_key = ensure_ledger_key(settings)
    ctx = open_context(settings)
    try:
        list_service.sync_purposes(ctx)
        from clearpixel.cli.admin_cmds import ensure_admin_account

        ensure_admin_account(ctx)
        if db_owner:
            tables = protect_ledger(ctx, owner=db_owner, app=app_role)
            console.print(
                f"database owner: {db_owner} owns {len(tables)} tables; {app_role} may append "
                "to the ledger, not change it or its triggers"
            )
    finally:
        ctx.db.dispose()
    console.print(f"data folder: {settings.data_dir.resolve()}")
    console.print(f"signing keys: {key_file if not settings.secret_keys else 'from environment'}")
    console.print(
        f"ledger checkpoint key: {ledger_key} (public key to keep elsewhere: "
        f"{public_key_path(settings)})"
    )
    console.print(f"database: {ctx.db.dialect} ready")


@lists_app.command("create")
def lists_create(name: str) -> None:
    """Create an audience list."""
    from clearpixel.audience import lists as list_service

    with context() as ctx:
        created = list_service.create_list(ctx, name)
    console.print(f"created list {created.name!r} (id {created.id})")


@lists_app.command("ls")
def lists_ls(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show every list with its number of contacts."""
    from clearpixel.audience import lists as list_service

    with context() as ctx:
        found = list_service.all_lists(ctx)
    if as_json:
        print_json(
            [
                {
                    "id": x.id,
                    "name": x.name,
                    "contacts": x.contacts,
                    "created_at": x.created_at.isoformat(),
                }
                for x in found
            ]
        )
        return
    from rich.table import Table

    table = Table("id", "name", "contacts", "created")
    for item in found:
        table.add_row(str(item.id), item.name, str(item.contacts), f"{item.created_at:%Y-%m-%d}")
    console.print(table)


# --- contacts import / export -----------------------------------------------------------------


def _say(text: str, *, err: bool = False) -> None:
    """Print data-bearing text as is: no markup (an address may hold brackets), no wrapping
    (a line number must stay on its line)."""
    (err_console if err else console).print(text, markup=False, soft_wrap=True)


class _Bar:
    """A rich progress bar on stderr (stdout stays clean for exports and JSON)."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _Bar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, phase: str, done: int, total: int) -> None:
        if phase not in self.tasks:
            self.tasks[phase] = self.progress.add_task(phase, total=total or 1)
        self.progress.update(self.tasks[phase], completed=done, total=total or 1)


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
        with context() as ctx, _Bar() as bar:
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
        _say(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    _say(
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
        _say(f"{report.rejected} bad row(s) left out{where}:", err=True)
        for error in report.errors:
            _say(f"  line {error.line}: {error.reason}", err=True)


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
            _say(f"exported {count} contacts to {output}")


# --- flags grant / revoke / check, ledger verify ----------------------------------------------


def _bulk(list_name: str, purpose: str, basis: str, only_null: bool, *, grant: bool) -> None:
    from clearpixel.consent.bulk import bulk_change

    with context() as ctx, _Bar() as bar:
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
    _say(
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


_Checkpoints = Annotated[
    list[Path] | None,
    typer.Option(
        "--checkpoints",
        help="A checkpoint file or folder to check the ledger against, besides the "
        "installation's own (repeat for more).",
    ),
]
_PublicKeys = Annotated[
    list[Path] | None,
    typer.Option(
        "--public-key",
        help="Trust only checkpoints signed by this public key (PEM; repeat for more). "
        "Default: the installation's own key.",
    ),
]


def _checkpoints(extra: list[Path] | None, keys: list[Path] | None) -> list[Found]:
    from clearpixel.audience.checkpoints import gather
    from clearpixel.config import load_settings

    return gather(load_settings(), extra or [], public_keys=keys or [])


@flags_app.command("check")
def flags_check(checkpoints: _Checkpoints = None, public_key: _PublicKeys = None) -> None:
    """Prove fold(ledger) == privacy_flags for every contact, on a ledger that agrees with
    the signed checkpoints; exit 1 naming the first contact that differs or the
    contradiction."""
    from clearpixel.audience.integrity import check_flags

    found = _checkpoints(checkpoints, public_key)
    with context() as ctx:
        report = check_flags(ctx, checkpoints=found)
    if report.checkpoint_problem:
        _say(f"flags check failed: {report.checkpoint_problem}", err=True)
        raise typer.Exit(code=1)
    if report.mismatch:
        _say(f"flags check failed: {report.mismatch.describe()}", err=True)
        raise typer.Exit(code=1)
    _say(f"flags check: {report.contacts} contacts, fold(ledger) == flags for all")


@ledger_app.command("verify")
def ledger_verify(checkpoints: _Checkpoints = None, public_key: _PublicKeys = None) -> None:
    """Verify the consent ledger's hash chain, its head and every signed checkpoint (the
    installation's own and those given); exit 1 naming the first fault."""
    from clearpixel.audience.integrity import verify_ledger

    found = _checkpoints(checkpoints, public_key)
    with context() as ctx:
        report = verify_ledger(ctx, checkpoints=found)
    if report.fault:
        where = f" at seq {report.fault.seq}" if report.fault.seq else ""
        _say(f"ledger verify failed{where}: {report.fault.problem}", err=True)
        raise typer.Exit(code=1)
    anchored = (
        f", agrees with {report.checkpoints} signed checkpoint(s)"
        if report.checkpoints
        else "; no signed checkpoint to compare with (run `clearpixel ledger checkpoint`)"
    )
    _say(f"ledger verify: {report.entries} entries, chain intact{anchored}")


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
    from clearpixel.audience.checkpoints import write_checkpoint

    with context() as ctx:
        checkpoint, path = write_checkpoint(ctx)
    if output is not None:
        output.write_text(checkpoint.to_json())
    _say(f"checkpoint of entry {checkpoint.seq} written to {path}", err=True)
    typer.echo(checkpoint.to_json(), nl=False)


@ledger_app.command("public-key")
def ledger_public_key() -> None:
    """Print the public key (PEM) that checks this installation's ledger checkpoints."""
    from clearpixel.audience.checkpoints import load_private_key, public_key_pem
    from clearpixel.config import load_settings

    key = load_private_key(load_settings()).public_key()
    typer.echo(public_key_pem(key).decode(), nl=False)


# --- consent show -----------------------------------------------------------------------------


@consent_app.command("show")
def consent_show(
    email: Annotated[str, typer.Argument(help="The contact's email address.")],
    list_name: Annotated[str, typer.Option("--list", help="The contact's list.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A contact's consent per purpose (granted / refused / never asked) and its ledger
    history."""
    from rich.table import Table

    from clearpixel.audience.emails import normalise_email
    from clearpixel.consent.history import consent_view

    with context() as ctx:
        view = consent_view(ctx.db, ctx.purposes, list_name=list_name, email=normalise_email(email))
    if as_json:
        print_json(view.as_dict())
        return
    flags = view.contact.privacy_flags
    _say(
        f"{view.contact.email} in {view.list_name!r}: privacy_flags "
        f"{'NULL (never asked)' if flags is None else flags}, {view.contact.status}"
    )
    purposes = Table("purpose", "bit", "state")
    for purpose in view.purposes:
        purposes.add_row(purpose.name, str(purpose.bit), purpose.state.replace("_", " "))
    console.print(purposes)
    if not view.history:
        _say("history: no ledger entries")
    for item in view.history:
        parts = [f"#{item.seq}", f"{item.at:%Y-%m-%d %H:%M:%S}", item.method]
        if item.granted:
            parts.append("granted: " + ", ".join(item.granted))
        if item.revoked:
            parts.append("revoked: " + ", ".join(item.revoked))
        parts.append(f"flags {item.flags_before} -> {item.flags_after}")
        if item.notice_id is not None:
            parts.append(f"notice {item.notice_id} (sha256 {item.notice_sha256})")
        if item.actor:
            parts.append(f"by {item.actor}")
        parts.append("evidence " + json.dumps(dict(item.evidence), ensure_ascii=False))
        _say("  ".join(parts))
