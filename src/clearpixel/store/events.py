"""Named queries for personal events (opens and clicks attributed to a contact)."""

from __future__ import annotations

from collections.abc import Sequence

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
