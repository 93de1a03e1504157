"""Named queries for personal events (opens and clicks attributed to a contact)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from clearpixel.store.db import Tx
from clearpixel.store.schema import personal_events


def detach_personal_events(tx: Tx, contact_ids: Sequence[int]) -> int:
    """Withdrawal (R5): the contacts' personal open events lose contact, IP and user agent, so they
    count in campaign totals only. Returns how many events were detached."""
    detached = 0
    for start in range(0, len(contact_ids), 1000):
        result = tx.execute(
            personal_events.update()
            .where(
                personal_events.c.event == "open",
                personal_events.c.contact_id.in_(contact_ids[start : start + 1000]),
            )
            .values(contact_id=None, ip=None, user_agent=None)
        )
        detached += result.rowcount
    return detached


_EVENT_COLUMNS = (
    "campaign_id",
    "contact_id",
    "event",
    "link_id",
    "at",
    "verdict",
    "reason",
    "rule",
    "ip",
    "user_agent",
)


def insert_personal_events(tx: Tx, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append personal events (opens of consenting contacts, clicks: R14). Rows carry
    campaign_id, contact_id, event, link_id, at, verdict, reason, rule, ip, user_agent; ip and
    user_agent are None unless the contact consents now, and the ip is already truncated."""
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
