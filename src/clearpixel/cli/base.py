"""The root Typer app and the helpers every command group shares."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from clearpixel.context import Context, open_context
from clearpixel.domain.errors import ClearpixelError

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
    ctx = open_context()
    try:
        yield ctx
    finally:
        ctx.db.dispose()


def print_json(value: Any) -> None:
    """Write `value` as JSON on stdout (plain, for scripts)."""
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))
