"""Named queries for the installation-wide suppression list and its log.

Addresses are stored normalised (`domain.bounces.normalise_address`): the caller passes them
so. An address is on the list once, with the reason that put it there first; every addition
and removal is logged with its actor and reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from clearpixel.store.db import Tx
from clearpixel.store.schema import suppression_log, suppressions

ADD = "add"
REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class Suppression:
    address: str
    reason: str
    since: datetime
    evidence: dict[str, Any]
    actor: str


@dataclass(frozen=True, slots=True)
class LogEntry:
    address: str
    action: str
    reason: str
    actor: str
    at: datetime


def _suppression(row: sa.Row[Any]) -> Suppression:
    return Suppression(row.address, row.reason, row.since, dict(row.evidence or {}), row.actor)


def suppress(
    tx: Tx,
    addresses: Sequence[str],
    *,
    reason: str,
    actor: str,
    evidence: dict[str, Any],
    now: datetime,
) -> list[str]:
    """Put `addresses` on the list (those already there keep their first reason) and log each
    new one. Returns the addresses that were new."""
    if not addresses:
        return []
    unique = list(dict.fromkeys(addresses))
    values = [
        {"address": a, "reason": reason, "since": now, "evidence": evidence, "actor": actor}
        for a in unique
    ]
    present = suppressed_among(tx, unique)
    added = [v for v in values if v["address"] not in present]
    if not added:
        return []
    insert = (
        postgresql.insert(suppressions)
        if tx.dialect.name == "postgresql"
        else sqlite.insert(suppressions)
    )
    # a concurrent writer may list one of them first: its row and reason stay
    tx.execute(insert.on_conflict_do_nothing(index_elements=["address"]), added)
    tx.execute(
        suppression_log.insert(),
        [
            {"address": v["address"], "action": ADD, "reason": reason, "actor": actor, "at": now}
            for v in added
        ],
    )
    return [str(v["address"]) for v in added]


def unsuppress(tx: Tx, address: str, *, reason: str, actor: str, now: datetime) -> bool:
    """Take `address` off the list and log who and why; False when it was not there."""
    result = tx.execute(suppressions.delete().where(suppressions.c.address == address))
    if not result.rowcount:
        return False
    tx.execute(
        suppression_log.insert().values(
            address=address, action=REMOVE, reason=reason, actor=actor, at=now
        )
    )
    return True


def suppressed_among(tx: Tx, addresses: Iterable[str]) -> set[str]:
    """Which of `addresses` are on the list."""
    wanted = list(dict.fromkeys(addresses))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(
            tx.scalars(sa.select(suppressions.c.address).where(suppressions.c.address.in_(chunk)))
        )
    return found


def get_suppression(tx: Tx, address: str) -> Suppression | None:
    row = tx.execute(sa.select(suppressions).where(suppressions.c.address == address)).first()
    return _suppression(row) if row else None


def list_suppressions(
    tx: Tx, *, reason: str | None = None, after: str = "", limit: int | None = None
) -> list[Suppression]:
    """The list in address order, from after `after` (a cursor), optionally one reason."""
    query = sa.select(suppressions).where(suppressions.c.address > after)
    if reason:
        query = query.where(suppressions.c.reason == reason)
    query = query.order_by(suppressions.c.address)
    if limit is not None:
        query = query.limit(limit)
    return [_suppression(row) for row in tx.execute(query)]


def iter_suppressions(tx: Tx, *, batch: int = 5000) -> Iterator[Suppression]:
    """The whole list, streamed in address order (for export)."""
    after = ""
    while True:
        page = list_suppressions(tx, after=after, limit=batch)
        yield from page
        if len(page) < batch:
            return
        after = page[-1].address


def count_by_reason(tx: Tx) -> dict[str, int]:
    rows = tx.execute(
        sa.select(suppressions.c.reason, sa.func.count()).group_by(suppressions.c.reason)
    )
    return {row[0]: int(row[1]) for row in rows}


def log_for(tx: Tx, address: str) -> list[LogEntry]:
    rows = tx.execute(
        sa.select(suppression_log)
        .where(suppression_log.c.address == address)
        .order_by(suppression_log.c.id)
    )
    return [LogEntry(r.address, r.action, r.reason, r.actor, r.at) for r in rows]
