"""Named queries for bounce and complaint events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearpixel.store.db import Tx
from clearpixel.store.schema import bounce_events, sends


@dataclass(frozen=True, slots=True)
class StoredBounce:
    id: int
    at: datetime
    email: str
    kind: str
    source: str
    status: str
    diagnostic: str
    campaign_id: int | None
    contact_id: int | None
    evidence: dict[str, Any]


def insert_bounce(
    tx: Tx,
    *,
    at: datetime,
    email: str,
    kind: str,
    source: str,
    status: str,
    diagnostic: str,
    campaign_id: int | None,
    contact_id: int | None,
    evidence: dict[str, Any],
) -> int:
    """Store one event; returns its id."""
    result = tx.execute(
        bounce_events.insert().values(
            at=at,
            email=email,
            kind=kind,
            source=source[:32],
            status=status[:16],
            diagnostic=diagnostic[:2000],
            campaign_id=campaign_id,
            contact_id=contact_id,
            evidence=evidence,
        )
    )
    key = result.inserted_primary_key
    return int(key[0]) if key else 0


def count_since(tx: Tx, email: str, kind: str, since: datetime) -> int:
    """Events of `kind` for `email` at or after `since`."""
    return int(
        tx.scalar(
            sa.select(sa.func.count()).where(
                bounce_events.c.email == email,
                bounce_events.c.kind == kind,
                bounce_events.c.at >= since,
            )
        )
        or 0
    )


def already_recorded(tx: Tx, *, email: str, kind: str, source: str, at: datetime) -> bool:
    """Whether an event of `kind` from `source` at exactly `at` is stored for `email`."""
    found = tx.scalar(
        sa.select(bounce_events.c.id)
        .where(
            bounce_events.c.email == email,
            bounce_events.c.kind == kind,
            bounce_events.c.at == at,
            bounce_events.c.source == source[:32],
        )
        .limit(1)
    )
    return found is not None


def counts_for_campaign(tx: Tx, campaign_id: int) -> dict[str, int]:
    """Distinct recipients per event kind (hard, soft, complaint) for one campaign."""
    rows = tx.execute(
        sa.select(bounce_events.c.kind, sa.func.count(sa.distinct(bounce_events.c.email)))
        .where(bounce_events.c.campaign_id == campaign_id)
        .group_by(bounce_events.c.kind)
    )
    return {row[0]: int(row[1]) for row in rows}


def bounces_for(tx: Tx, email: str, *, limit: int = 100) -> list[StoredBounce]:
    """The newest events of one address."""
    rows = tx.execute(
        sa.select(bounce_events)
        .where(bounce_events.c.email == email)
        .order_by(bounce_events.c.id.desc())
        .limit(limit)
    )
    return [
        StoredBounce(
            r.id,
            r.at,
            r.email,
            r.kind,
            r.source,
            r.status,
            r.diagnostic,
            r.campaign_id,
            r.contact_id,
            dict(r.evidence or {}),
        )
        for r in rows
    ]


def skipped_by_reason(tx: Tx, campaign_id: int) -> dict[str, int]:
    """Send rows of a campaign skipped at delivery, per reason (`suppressed`, `unsubscribed`
    ...)."""
    rows = tx.execute(
        sa.select(sends.c.error, sa.func.count())
        .where(sends.c.campaign_id == campaign_id, sends.c.status == "skipped")
        .group_by(sends.c.error)
    )
    return {str(row[0]): int(row[1]) for row in rows}
