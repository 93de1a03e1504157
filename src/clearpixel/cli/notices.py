"""`clearpixel notices add|ls`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearpixel.cli.base import console, context, notices_app, print_json, shipped_locale
from clearpixel.domain.errors import ClearpixelError

# The notice service (and the store) is imported inside the commands.


@notices_app.command("add")
def notices_add(
    purpose: str = typer.Argument(..., help="Purpose name, e.g. open_tracking."),
    locale: str = typer.Option(..., "--locale", "-l", help="Language: en or fr."),
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the text from a file.")
    ] = None,
    text: str | None = typer.Option(None, "--text", "-t", help="The text itself."),
) -> None:
    """Store a new version of a notice; refused, naming what is missing, if it lacks a
    required element (who places the pixel, what is collected, the purpose, every device)."""
    if (file is None) == (text is None):
        raise ClearpixelError("give the notice with exactly one of --file or --text")
    body = file.read_text(encoding="utf-8") if file is not None else str(text)
    from clearpixel.consent import notices as notice_service

    with context() as ctx:
        notice = notice_service.add_notice(ctx, purpose, shipped_locale(locale), body)
    console.print(
        f"notice {notice.id}: {notice.purpose} ({notice.locale}) version {notice.version}, "
        f"sha256 {notice.sha256}"
    )


@notices_app.command("ls")
def notices_ls(
    as_json: bool = typer.Option(False, "--json", help="Print JSON, with the texts."),
) -> None:
    """Every notice version (the shipped defaults are stored on first use)."""
    from rich.table import Table

    from clearpixel.consent import notices as notice_service

    with context() as ctx:
        notice_service.ensure_defaults(ctx)
        found = notice_service.list_notices(ctx)
    if as_json:
        print_json(
            [
                {
                    "id": n.id,
                    "purpose": n.purpose,
                    "locale": n.locale,
                    "version": n.version,
                    "sha256": n.sha256,
                    "created_at": n.created_at.isoformat(),
                    "text": n.text,
                }
                for n in found
            ]
        )
        return
    table = Table("id", "purpose", "locale", "version", "sha256", "created")
    for n in found:
        table.add_row(
            str(n.id),
            n.purpose,
            n.locale,
            str(n.version),
            n.sha256[:16] + "…",
            f"{n.created_at:%Y-%m-%d}",
        )
    console.print(table)
