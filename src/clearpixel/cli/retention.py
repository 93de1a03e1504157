"""`clearpixel retention run`: remove what is past its retention window."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from clearpixel.cli.base import console, context, retention_app


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
