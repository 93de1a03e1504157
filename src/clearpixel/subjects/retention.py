"""Retention: remove what is past its window (`clearpixel retention run`, daily in `serve`).

Personal open and click events older than their window are deleted; last-open and last-click
dates with no hit for longer than theirs are cleared; spill and journal files not written for
longer than theirs are deleted; erasure entries older than the proof-after-erasure window
lose their reason text (an erasure already deleted every other personal field of the
person's entries, so only non-personal fields stay). Counters and campaign totals are left
as they are, so reports keep their numbers. Deletion is by date (one statement per table on
both engines).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from clearpixel.context import Context
from clearpixel.ingest.buffer import remove_stale_spill_files
from clearpixel.store.retention import clear_activity_dates_before, delete_personal_events_before
from clearpixel.store.subjects import forget_erasure_reasons_before


@dataclass(frozen=True, slots=True)
class RetentionReport:
    personal_events: int
    last_open_dates: int
    last_click_dates: int
    spill_files: int
    erasure_reasons: int = 0  # erasure entries past the proof window: their reason text went


def run_retention(ctx: Context, now: datetime) -> RetentionReport:
    """Apply every window as of `now`. Effects: personal events deleted, activity dates
    cleared (one transaction), stale spill files deleted."""
    settings = ctx.settings
    events_before = now - timedelta(days=settings.retention_personal_events_days)
    dates_before = (now - timedelta(days=settings.retention_last_open_days)).date()
    proof_before = now - timedelta(days=settings.retention_proof_after_erasure_days)
    with ctx.db.begin() as tx:
        events = delete_personal_events_before(tx, events_before)
        opens, clicks = clear_activity_dates_before(tx, dates_before)
        reasons = forget_erasure_reasons_before(tx, proof_before)
    spill_before = now - timedelta(hours=settings.retention_spill_hours)
    files = remove_stale_spill_files(
        settings.data_dir / "spill", modified_before=spill_before.timestamp()
    )
    return RetentionReport(events, opens, clicks, files, reasons)
