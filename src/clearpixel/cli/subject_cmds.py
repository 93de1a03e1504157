"""`clearpixel subject export` (what is held on one address, in every list) and
`clearpixel retention run` (remove what is past its window)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer

from clearpixel.cli.base import console, context, retention_app, subject_app


class ExportFormat(StrEnum):
    JSON = "json"
    HTML = "html"


@subject_app.command("export")
def subject_export(
    email: str = typer.Argument(..., help="The person's email address."),
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="json or html.")
    ] = ExportFormat.JSON,
) -> None:
    """Everything held on EMAIL in every list (memberships, attributes, consent per purpose,
    every ledger entry with its notice, sends, personal events), for a right-of-access request."""
    from clearpixel.subjects import access

    with context() as ctx:
        data = access.subject_export(ctx, email)
    typer.echo(access.export_html(data) if fmt is ExportFormat.HTML else access.export_json(data))


@retention_app.command("run")
def retention_run(
    now: Annotated[
        datetime | None,
        typer.Option("--now", help="Apply the windows as of this UTC time (default: now)."),
    ] = None,
) -> None:
    """Delete personal events, clear last-open and last-click dates and delete spill files past
    their retention windows (CLEARPIXEL_RETENTION_*). Counters and campaign totals stay.
    `clearpixel serve` runs this daily."""
    from clearpixel.subjects.retention import run_retention

    with context() as ctx:
        at = now.replace(tzinfo=UTC) if now is not None and now.tzinfo is None else now
        report = run_retention(ctx, at or ctx.now())
    console.print(
        f"personal events deleted: {report.personal_events}, last-open dates cleared: "
        f"{report.last_open_dates}, last-click dates cleared: {report.last_click_dates}, "
        f"spill files deleted: {report.spill_files}"
    )
