"""Named queries for consent requests: page views, their one outcome, and the outcomes of every
consent-request campaign.

A consent token names a (campaign, contact) pair. Its row records the first view of the
consent page and, once, the outcome. `claim_outcome` is a conditional UPDATE, so of two
concurrent POSTs (or a replayed link) exactly one records a decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearpixel.store.db import Tx
from clearpixel.store.schema import campaigns, consent_responses, contacts, sends

CONSENT_REQUEST_KIND = "consent_request"


@dataclass(frozen=True, slots=True)
class ConsentResponse:
    campaign_id: int
    contact_id: int
    viewed_at: datetime | None
    outcome: str | None
    decided_at: datetime | None


def _response(row: sa.Row[Any]) -> ConsentResponse:
    return ConsentResponse(
        row.campaign_id, row.contact_id, row.viewed_at, row.outcome, row.decided_at
    )


def _insert(tx: Tx) -> Any:
    if tx.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(consent_responses)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(consent_responses)


def ensure_response(tx: Tx, campaign_id: int, contact_id: int) -> None:
    """Create the (campaign, contact) row if it does not exist yet."""
    tx.execute(
        _insert(tx)
        .values(campaign_id=campaign_id, contact_id=contact_id)
        .on_conflict_do_nothing(index_elements=["campaign_id", "contact_id"])
    )


def get_response(tx: Tx, campaign_id: int, contact_id: int) -> ConsentResponse | None:
    row = tx.execute(
        sa.select(consent_responses).where(
            consent_responses.c.campaign_id == campaign_id,
            consent_responses.c.contact_id == contact_id,
        )
    ).first()
    return _response(row) if row else None


def request_of(tx: Tx, campaign_id: int, contact_id: int) -> ConsentResponse:
    """The row of one consent request (created if missing), without noting a view."""
    ensure_response(tx, campaign_id, contact_id)
    found = get_response(tx, campaign_id, contact_id)
    assert found is not None
    return found


def record_view(tx: Tx, campaign_id: int, contact_id: int, *, now: datetime) -> ConsentResponse:
    """Note the first view of the page (later views keep the first time). Returns the row."""
    ensure_response(tx, campaign_id, contact_id)
    tx.execute(
        consent_responses.update()
        .where(
            consent_responses.c.campaign_id == campaign_id,
            consent_responses.c.contact_id == contact_id,
            consent_responses.c.viewed_at.is_(None),
        )
        .values(viewed_at=now)
    )
    found = get_response(tx, campaign_id, contact_id)
    assert found is not None
    return found


def claim_outcome(
    tx: Tx,
    campaign_id: int,
    contact_id: int,
    outcome: str,
    *,
    now: datetime,
    replacing: Sequence[str] = (),
) -> bool:
    """Set the outcome if none is recorded yet (or the recorded one is in `replacing`);
    False when another decision got there first."""
    ensure_response(tx, campaign_id, contact_id)
    open_outcome: sa.ColumnElement[bool] = consent_responses.c.outcome.is_(None)
    if replacing:
        open_outcome = sa.or_(open_outcome, consent_responses.c.outcome.in_(list(replacing)))
    result = tx.execute(
        consent_responses.update()
        .where(
            consent_responses.c.campaign_id == campaign_id,
            consent_responses.c.contact_id == contact_id,
            open_outcome,
        )
        .values(outcome=outcome, decided_at=now)
    )
    return bool(result.rowcount == 1)


def views_left_open(tx: Tx, *, viewed_before: datetime, limit: int) -> list[tuple[int, int]]:
    """(campaign, contact) pairs whose page was viewed before `viewed_before`, no outcome."""
    rows = tx.execute(
        sa.select(consent_responses.c.campaign_id, consent_responses.c.contact_id)
        .where(
            consent_responses.c.outcome.is_(None),
            consent_responses.c.viewed_at.is_not(None),
            consent_responses.c.viewed_at <= viewed_before,
        )
        .order_by(consent_responses.c.viewed_at)
        .limit(limit)
    )
    return [(row.campaign_id, row.contact_id) for row in rows]


def requests_expired_unused(tx: Tx, *, sent_before: datetime, limit: int) -> list[tuple[int, int]]:
    """(campaign, contact) pairs of consent-request emails sent before `sent_before` (so
    their links have expired) that have no recorded outcome."""
    answered = sa.exists().where(
        consent_responses.c.campaign_id == sends.c.campaign_id,
        consent_responses.c.contact_id == sends.c.contact_id,
        consent_responses.c.outcome.is_not(None),
    )
    rows = tx.execute(
        sa.select(sends.c.campaign_id, sends.c.contact_id)
        .select_from(sends.join(contacts, contacts.c.id == sends.c.contact_id))
        .where(
            sends.c.kind == CONSENT_REQUEST_KIND,
            sends.c.sent_at.is_not(None),
            sends.c.sent_at <= sent_before,
            ~answered,
        )
        .order_by(sends.c.sent_at)
        .limit(limit)
    )
    return [(row.campaign_id, row.contact_id) for row in rows]


@dataclass(slots=True)
class RequestOutcomes:
    campaign_id: int
    name: str
    created_at: datetime
    sent: int
    viewed: int
    outcomes: dict[str, int]


def request_outcomes(tx: Tx) -> list[RequestOutcomes]:
    """Every consent-request campaign: emails sent, pages viewed, outcomes recorded."""
    found = {
        row.id: RequestOutcomes(row.id, row.name, row.created_at, 0, 0, {})
        for row in tx.execute(
            sa.select(campaigns.c.id, campaigns.c.name, campaigns.c.created_at)
            .where(campaigns.c.kind == "consent_request")
            .order_by(campaigns.c.id)
        )
    }
    if not found:
        return []
    ids = list(found)
    for campaign_id, n in tx.execute(
        sa.select(sends.c.campaign_id, sa.func.count())
        .where(sends.c.campaign_id.in_(ids), sends.c.status == "sent")
        .group_by(sends.c.campaign_id)
    ):
        found[campaign_id].sent = int(n)
    for campaign_id, outcome, viewed, n in tx.execute(
        sa.select(
            consent_responses.c.campaign_id,
            consent_responses.c.outcome,
            sa.func.count(consent_responses.c.viewed_at),
            sa.func.count(),
        )
        .where(consent_responses.c.campaign_id.in_(ids))
        .group_by(consent_responses.c.campaign_id, consent_responses.c.outcome)
    ):
        item = found[campaign_id]
        item.viewed += int(viewed)
        if outcome is not None:
            item.outcomes[str(outcome)] = item.outcomes.get(str(outcome), 0) + int(n)
    return list(found.values())
