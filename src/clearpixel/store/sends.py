"""Named queries for send records: one row per (campaign, recipient), written `pending` before
the message goes out and `sent` once the transport accepted it, so an interrupted campaign
resumes without a gap and repeats at most the messages that were in flight."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from clearpixel.store.contacts import Contact, _contact
from clearpixel.store.db import Tx
from clearpixel.store.schema import contacts, sends

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class PendingSend:
    """A send row still to deliver, with its contact as it is now."""

    id: int
    mode: str
    purposes: int
    attempts: int
    contact: Contact


def insert_pending(tx: Tx, rows: Sequence[dict[str, Any]], *, now: datetime) -> int:
    """Insert `pending` rows (campaign_id, contact_id, kind, mode, purposes); a contact that
    already has a row for the campaign keeps it. Returns how many rows were new."""
    if not rows:
        return 0
    values = [{**row, "status": PENDING, "attempts": 0, "created_at": now} for row in rows]
    insert = postgresql.insert(sends) if tx.dialect.name == "postgresql" else sqlite.insert(sends)
    result = tx.execute(
        insert.on_conflict_do_nothing(index_elements=["campaign_id", "contact_id"]), values
    )
    return max(result.rowcount, 0)


def pending_batch(
    tx: Tx, campaign_id: int, *, after: int = 0, limit: int = 500
) -> list[PendingSend]:
    """Pending rows of a campaign with id above `after`, with their contacts, in id order."""
    rows = tx.execute(
        sa.select(
            sends.c.id.label("send_id"),
            sends.c.mode,
            sends.c.purposes,
            sends.c.attempts,
            contacts,
        )
        .join(contacts, contacts.c.id == sends.c.contact_id)
        .where(
            sends.c.campaign_id == campaign_id,
            sends.c.status == PENDING,
            sends.c.id > after,
        )
        .order_by(sends.c.id)
        .limit(limit)
    ).all()
    return [PendingSend(r.send_id, r.mode, r.purposes, r.attempts, _contact(r)) for r in rows]


def mark_sent(
    tx: Tx, send_id: int, *, message_id: str, mode: str, purposes: int, now: datetime
) -> None:
    """The transport accepted the message; `mode` and `purposes` are what it carried."""
    tx.execute(
        sends.update()
        .where(sends.c.id == send_id)
        .values(
            status=SENT,
            message_id=message_id,
            mode=mode,
            purposes=purposes,
            attempts=sends.c.attempts + 1,
            error=None,
            sent_at=now,
        )
    )


def mark_failed(tx: Tx, send_id: int, error: str, *, permanent: bool) -> None:
    """A permanent failure (5xx) ends the row; a temporary one leaves it pending for the next
    run, with the error and the attempt counted."""
    tx.execute(
        sends.update()
        .where(sends.c.id == send_id)
        .values(
            status=FAILED if permanent else PENDING,
            error=error[:2000],
            attempts=sends.c.attempts + 1,
        )
    )


def mark_skipped(tx: Tx, send_id: int, reason: str) -> None:
    """The recipient stopped being eligible between recording and sending."""
    tx.execute(
        sends.update().where(sends.c.id == send_id).values(status=SKIPPED, error=reason[:2000])
    )


def count_by_status(tx: Tx, campaign_id: int) -> dict[str, int]:
    rows = tx.execute(
        sa.select(sends.c.status, sa.func.count())
        .where(sends.c.campaign_id == campaign_id)
        .group_by(sends.c.status)
    )
    return {row[0]: int(row[1]) for row in rows}


def counts_by_campaign(tx: Tx) -> dict[int, dict[str, int]]:
    """Send rows per status, for every campaign."""
    rows = tx.execute(
        sa.select(sends.c.campaign_id, sends.c.status, sa.func.count()).group_by(
            sends.c.campaign_id, sends.c.status
        )
    )
    out: dict[int, dict[str, int]] = {}
    for campaign_id, status, count in rows:
        out.setdefault(int(campaign_id), {})[str(status)] = int(count)
    return out


def failures(tx: Tx, campaign_id: int, *, limit: int = 20) -> list[tuple[str, str]]:
    """(email, reason) of failed recipients, first ones first."""
    rows = tx.execute(
        sa.select(contacts.c.email, sends.c.error)
        .join(contacts, contacts.c.id == sends.c.contact_id)
        .where(sends.c.campaign_id == campaign_id, sends.c.status == FAILED)
        .order_by(sends.c.id)
        .limit(limit)
    )
    return [(row.email, row.error or "") for row in rows]


def count_by_mode(tx: Tx, campaign_id: int) -> dict[str, int]:
    """Sent messages per tracking mode."""
    rows = tx.execute(
        sa.select(sends.c.mode, sa.func.count())
        .where(sends.c.campaign_id == campaign_id, sends.c.status == SENT)
        .group_by(sends.c.mode)
    )
    return {row[0]: int(row[1]) for row in rows}


def get_send(tx: Tx, campaign_id: int, contact_id: int) -> dict[str, Any] | None:
    row = tx.execute(
        sa.select(sends).where(sends.c.campaign_id == campaign_id, sends.c.contact_id == contact_id)
    ).first()
    return row._asdict() if row else None
