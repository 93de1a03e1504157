"""Named queries for outgoing webhooks: endpoints, the delivery outbox and the attempt log.

`enqueue` writes one delivery per subscribed endpoint inside the caller's transaction, so an
event exists exactly when the action that caused it committed; the worker claims due rows
(`claim_due`, a lease on `next_attempt_at`) so two workers never post the same row at once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from clearpixel.domain.errors import NotFound
from clearpixel.domain.webhooks import EventType
from clearpixel.store.db import Tx
from clearpixel.store.schema import (
    consent_ledger,
    contacts,
    webhook_attempts,
    webhook_deliveries,
)
from clearpixel.store.schema import webhook_endpoints as endpoints

UNSUBSCRIBED_EVENT = EventType.UNSUBSCRIBED.value
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


class UnknownEndpoint(NotFound):
    """No such webhook endpoint."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: int
    url: str
    secret: str
    events: list[str]
    ledger_seq: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    endpoint_id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    payload: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Attempt:
    delivery_id: int
    event_type: str
    at: datetime
    status_code: int | None
    error: str | None
    delivery_status: str


def _endpoint(row: sa.Row[Any]) -> Endpoint:
    return Endpoint(row.id, row.url, row.secret, list(row.events), row.ledger_seq, row.created_at)


def add_endpoint(tx: Tx, *, url: str, secret: str, events: list[str], now: datetime) -> Endpoint:
    """Register an endpoint; its consent feed starts after the ledger's current last entry."""
    head = tx.scalar(sa.select(sa.func.max(consent_ledger.c.seq))) or 0
    result = tx.execute(
        endpoints.insert().values(
            url=url, secret=secret, events=events, ledger_seq=head, created_at=now
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return get_endpoint(tx, int(key[0]))


def get_endpoint(tx: Tx, endpoint_id: int) -> Endpoint:
    row = tx.execute(
        sa.select(endpoints).where(endpoints.c.id == endpoint_id, endpoints.c.removed_at.is_(None))
    ).first()
    if row is None:
        raise UnknownEndpoint(f"no webhook endpoint {endpoint_id}")
    return _endpoint(row)


def active_endpoints(tx: Tx, *, for_update: bool = False) -> list[Endpoint]:
    """Endpoints not removed; `for_update` locks their rows (PostgreSQL; SQLite's writer
    already holds the database), so two feeds never move one cursor at once."""
    query = sa.select(endpoints).where(endpoints.c.removed_at.is_(None)).order_by(endpoints.c.id)
    if for_update:
        query = query.with_for_update()
    return [_endpoint(row) for row in tx.execute(query)]


def remove_endpoint(tx: Tx, endpoint_id: int, *, now: datetime) -> None:
    """Stop delivering to it (its log stays); pending deliveries are given up."""
    get_endpoint(tx, endpoint_id)
    tx.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(removed_at=now))
    tx.execute(
        webhook_deliveries.update()
        .where(
            webhook_deliveries.c.endpoint_id == endpoint_id,
            webhook_deliveries.c.status == PENDING,
        )
        .values(status=FAILED)
    )


def set_ledger_seq(tx: Tx, endpoint_id: int, seq: int) -> None:
    tx.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(ledger_seq=seq))


def enqueue(
    tx: Tx,
    event_type: str,
    data: dict[str, Any],
    *,
    now: datetime,
    only: Sequence[Endpoint] | None = None,
) -> int:
    """One pending delivery of the event per active endpoint subscribed to `event_type`
    (or per endpoint of `only`). Returns how many were written."""
    targets = [
        e for e in (only if only is not None else active_endpoints(tx)) if event_type in e.events
    ]
    if not targets:
        return 0
    event_id = str(uuid.uuid4())
    body = json.dumps(
        {"id": event_id, "type": event_type, "created_at": now.isoformat(), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    tx.execute(
        webhook_deliveries.insert(),
        [
            {
                "endpoint_id": e.id,
                "event_id": event_id,
                "event_type": event_type,
                "payload": body,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for e in targets
        ],
    )
    return len(targets)


def enqueue_unsubscribed(tx: Tx, contact_id: int, *, now: datetime) -> None:
    """Queue `contact.unsubscribed` for a contact that just unsubscribed."""
    targets = [e for e in active_endpoints(tx) if UNSUBSCRIBED_EVENT in e.events]
    if not targets:
        return
    row = tx.execute(
        sa.select(contacts.c.email, contacts.c.list_id).where(contacts.c.id == contact_id)
    ).first()
    if row is None:
        return
    data = {"contact_id": contact_id, "list_id": row.list_id, "email": row.email}
    enqueue(tx, UNSUBSCRIBED_EVENT, data, now=now, only=targets)


def has_due(tx: Tx, *, now: datetime) -> bool:
    """Whether any delivery is due (a read, so an idle worker takes no write lock)."""
    return (
        tx.execute(
            sa.select(webhook_deliveries.c.id)
            .where(
                webhook_deliveries.c.status == PENDING,
                webhook_deliveries.c.next_attempt_at <= now,
            )
            .limit(1)
        ).first()
        is not None
    )


def claim_due(tx: Tx, *, now: datetime, lease: timedelta, limit: int = 50) -> list[Delivery]:
    """Pending deliveries due at `now`, claimed for `lease` (a crashed worker's claim runs
    out, and the row is tried again)."""
    rows = tx.execute(
        sa.select(
            webhook_deliveries.c.id,
            webhook_deliveries.c.endpoint_id,
            webhook_deliveries.c.event_id,
            webhook_deliveries.c.event_type,
            webhook_deliveries.c.payload,
            webhook_deliveries.c.attempts,
            webhook_deliveries.c.next_attempt_at,
            endpoints.c.url,
            endpoints.c.secret,
        )
        .join(endpoints, endpoints.c.id == webhook_deliveries.c.endpoint_id)
        .where(
            webhook_deliveries.c.status == PENDING,
            webhook_deliveries.c.next_attempt_at <= now,
        )
        .order_by(webhook_deliveries.c.id)
        .limit(limit)
    ).all()
    claimed = []
    for r in rows:
        taken = tx.execute(
            webhook_deliveries.update()
            .where(
                webhook_deliveries.c.id == r.id,
                webhook_deliveries.c.status == PENDING,
                webhook_deliveries.c.next_attempt_at == r.next_attempt_at,
            )
            .values(next_attempt_at=now + lease)
        )
        if taken.rowcount:
            claimed.append(
                Delivery(
                    r.id,
                    r.endpoint_id,
                    r.url,
                    r.secret,
                    r.event_id,
                    r.event_type,
                    r.payload,
                    r.attempts,
                )
            )
    return claimed


def record_attempt(
    tx: Tx,
    delivery: Delivery,
    *,
    now: datetime,
    status_code: int | None,
    error: str | None,
    delivered: bool,
    retry_at: datetime | None,
) -> None:
    """Log one attempt and move the delivery on: delivered, retried at `retry_at`, or given
    up (failed) when there is no `retry_at`."""
    tx.execute(
        webhook_attempts.insert().values(
            delivery_id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            at=now,
            status_code=status_code,
            error=(error or None) and error[:2000],
        )
    )
    values: dict[str, Any] = {"attempts": webhook_deliveries.c.attempts + 1}
    if delivered:
        values |= {"status": DELIVERED, "delivered_at": now}
    elif retry_at is None:
        values |= {"status": FAILED}
    else:
        values |= {"next_attempt_at": retry_at}
    tx.execute(
        webhook_deliveries.update().where(webhook_deliveries.c.id == delivery.id).values(values)
    )


def attempts_for(tx: Tx, endpoint_id: int, *, limit: int = 100) -> list[Attempt]:
    """The endpoint's delivery log, newest attempt first."""
    rows = tx.execute(
        sa.select(
            webhook_attempts.c.delivery_id,
            webhook_deliveries.c.event_type,
            webhook_attempts.c.at,
            webhook_attempts.c.status_code,
            webhook_attempts.c.error,
            webhook_deliveries.c.status,
        )
        .join(webhook_deliveries, webhook_deliveries.c.id == webhook_attempts.c.delivery_id)
        .where(webhook_attempts.c.endpoint_id == endpoint_id)
        .order_by(webhook_attempts.c.id.desc())
        .limit(limit)
    )
    return [Attempt(*row) for row in rows]


def deliveries_by_status(tx: Tx, endpoint_id: int) -> dict[str, int]:
    rows = tx.execute(
        sa.select(webhook_deliveries.c.status, sa.func.count())
        .where(webhook_deliveries.c.endpoint_id == endpoint_id)
        .group_by(webhook_deliveries.c.status)
    )
    return {row[0]: int(row[1]) for row in rows}
