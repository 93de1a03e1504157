"""Named queries for personal events (opens and clicks attributed to a contact)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from clearpixel.store.db import Tx, wipe_after_commit
from clearpixel.store.schema import personal_events


def forget_personal_events(tx: Tx, contact_ids: Sequence[int]) -> int:
    """Withdrawal (R5, R20): every personal event of these contacts, opens and clicks, is
    deleted. Their counts already live in the campaign counters (hit_counters,
    campaign_totals), which are all an anonymous count needs, so nothing per contact remains.
    The transaction also asks the store to wipe what the deletion freed once it commits
    (SQLite keeps old pages in its write-ahead log). Returns how many events were deleted."""
    forgotten = 0
    for start in range(0, len(contact_ids), 1000):
        result = tx.execute(
            personal_events.delete().where(
                personal_events.c.contact_id.in_(contact_ids[start : start + 1000])
            )
        )
        forgotten += result.rowcount
    if forgotten:
        wipe_after_commit(tx)
    return forgotten


_EVENT_COLUMNS = (
    "campaign_id",
    "contact_id",
    "event",
    "link_id",
    "at",
    "verdict",
    "reason",
    "rule",
)


def insert_personal_events(tx: Tx, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append personal events (opens of consenting contacts, clicks: R14). Rows carry
    campaign_id, contact_id, event, link_id, at, verdict, reason, rule; nothing about the
    requester (R17)."""
    if not rows:
        return
    if tx.dialect.name != "postgresql":
        tx.execute(personal_events.insert(), [dict(row) for row in rows])
        return
    # PostgreSQL: COPY, an order of magnitude cheaper than row-by-row inserts for a batch
    columns = list(_EVENT_COLUMNS)
    cursor = tx.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY personal_events ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row.get(name) for name in columns])
