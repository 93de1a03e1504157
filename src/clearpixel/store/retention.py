"""Named queries of the retention run: remove what is past its window, by date. Counters
(`hit_counters`, `campaign_totals`, `hit_drops`) are never touched: reports keep their totals."""

from __future__ import annotations

from datetime import date, datetime

from clearpixel.store.db import Tx
from clearpixel.store.partitions import drop_months_before
from clearpixel.store.schema import contacts, personal_events


def delete_personal_events_before(tx: Tx, before: datetime) -> int:
    """Delete personal events (attached or detached) that happened before `before`; returns
    how many. On PostgreSQL the months wholly before `before` are dropped as whole
    partitions (store/partitions.py), the rest deleted row by row."""
    dropped = drop_months_before(tx, before)
    deleted = tx.execute(personal_events.delete().where(personal_events.c.at < before)).rowcount
    return dropped + int(deleted)


def clear_activity_dates_before(tx: Tx, before: date) -> tuple[int, int]:
    """Clear last-open and last-click dates older than `before` (no hit since); returns how
    many of each were cleared."""
    opens = tx.execute(
        contacts.update().where(contacts.c.last_open_date < before).values(last_open_date=None)
    ).rowcount
    clicks = tx.execute(
        contacts.update().where(contacts.c.last_click_date < before).values(last_click_date=None)
    ).rowcount
    return int(opens), int(clicks)
