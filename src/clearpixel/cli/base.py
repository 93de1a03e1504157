"""The root Typer app and the helpers every command group shares."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from clearpixel.domain.errors import ClearpixelError

if TYPE_CHECKING:
    from rich.progress import TaskID

    from clearpixel.context import Context

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class ClearpixelGroup(TyperGroup):
    """Turns every ClearpixelError raised by a command into a clear message, no traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ClearpixelError as exc:
            err_console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(code=2) from exc


app = typer.Typer(
    cls=ClearpixelGroup,
    name="clearpixel",
    help="Consent-aware email engagement: lists, consent ledger, campaigns, tracking, reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@contextmanager
def context() -> Iterator[Context]:
    """The installation's context (settings from the environment, database migrated),
    closed when the command ends."""
    from clearpixel.context import open_context

    ctx = open_context()
    try:
        yield ctx
    finally:
        ctx.db.dispose()


def print_json(value: Any) -> None:
    """Write `value` as JSON on stdout (plain, for scripts)."""
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def say(text: str, *, err: bool = False) -> None:
    """Print data-bearing text as is: no markup (an address may hold brackets), no wrapping
    (a line number must stay on its line)."""
    (err_console if err else console).print(text, markup=False, soft_wrap=True)


class ProgressBar:
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

    def __enter__(self) -> ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, phase: str, done: int, total: int) -> None:
        if phase not in self.tasks:
            self.tasks[phase] = self.progress.add_task(phase, total=total or 1)
        self.progress.update(self.tasks[phase], completed=done, total=total or 1)


def shipped_locale(value: str) -> str:
    """`value` if the consent pages ship that language; a clear error otherwise."""
    from clearpixel.i18n import SUPPORTED

    if value not in SUPPORTED:
        raise ClearpixelError(
            f"language {value!r} is not shipped (use one of {', '.join(SUPPORTED)})"
        )
    return value


def group(name: str, help_text: str) -> typer.Typer:
    """A command group (`clearpixel NAME ...`) registered on the root app."""
    sub = typer.Typer(cls=ClearpixelGroup, help=help_text, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


# Every command group, declared once; the modules of `clearpixel.cli` add commands to them.
lists_app = group("lists", "Audience lists.")
contacts_app = group("contacts", "Import and export contacts.")
flags_app = group("flags", "Bulk consent changes (with a legal basis) and the flags check.")
consent_app = group("consent", "A contact's consent: current choices, history, proof.")
ledger_app = group("ledger", "The consent ledger.")
notices_app = group("notices", "Versioned consent notices.")
forms_app = group("forms", "Signup forms for your own site.")
campaign_app = group("campaign", "Campaigns: create, preview, send.")
classify_app = group("classify", "Machine-open classification rules.")
apikeys_app = group("apikeys", "REST API keys.")
users_app = group("users", "Admin users and their roles (admin, editor, auditor).")
subject_app = group("subject", "Data-subject requests: what is held on a person.")
retention_app = group("retention", "Retention windows: remove what is past its time.")
