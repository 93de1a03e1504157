"""Named queries behind the campaign report: sends by kind and mode, hourly hit counters,
per-campaign totals and drop counts. Counters only: their cost does not grow with events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from clearpixel.store.db import Tx, as_utc
from clearpixel.store.schema import campaign_totals, hit_counters, hit_drops, sends


def sent_counts(tx: Tx, campaign_id: int, *, statuses: Sequence[str]) -> dict[tuple[str, str], int]:
    """Sends per (kind, mode) with one of `statuses`; reads ix_sends_campaign_kind_mode."""
    rows = tx.execute(
        sa.select(sends.c.kind, sends.c.mode, sa.func.count().label("n"))
        .where(sends.c.campaign_id == campaign_id, sends.c.status.in_(list(statuses)))
        .group_by(sends.c.kind, sends.c.mode)
    )
    return {(row.kind, row.mode): int(row.n) for row in rows}


def counters_of(tx: Tx, campaign_id: int) -> list[tuple[datetime, str, str, str, str, int]]:
    """(hour, mode, kind, event, verdict, n) of one campaign, by hour."""
    rows = tx.execute(
        sa.select(hit_counters)
        .where(hit_counters.c.campaign_id == campaign_id)
        .order_by(hit_counters.c.hour)
    )
    return [(as_utc(r.hour), r.mode, r.kind, r.event, r.verdict, int(r.n)) for r in rows]


def totals_of(tx: Tx, campaign_id: int) -> dict[tuple[str, int], int]:
    """(metric, link id) to n for one campaign."""
    rows = tx.execute(
        sa.select(campaign_totals).where(campaign_totals.c.campaign_id == campaign_id)
    )
    return {(row.metric, row.link_id): int(row.n) for row in rows}


def drops_of(tx: Tx, campaign_id: int) -> dict[str, int]:
    """Drop counts of one campaign by reason, all hours together."""
    rows = tx.execute(
        sa.select(hit_drops.c.reason, sa.func.sum(hit_drops.c.n).label("n"))
        .where(hit_drops.c.campaign_id == campaign_id)
        .group_by(hit_drops.c.reason)
    )
    return {row.reason: int(row.n) for row in rows}
