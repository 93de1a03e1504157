"""Named queries of the consent dashboard: coverage per list and purpose, its daily changes
from the ledger, consent-request outcomes, withdrawals per day. Aggregates only; no contact
appears in any result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from clearpixel.domain.flags import OPEN_TRACKING_BIT
from clearpixel.store.db import Tx
from clearpixel.store.schema import (
    audience_lists,
    consent_ledger,
    contacts,
)


@dataclass(frozen=True, slots=True)
class ListCoverage:
    list_id: int
    list_name: str
    contacts: int
    never_asked: int
    granted: dict[int, int]  # bit -> contacts holding it


@dataclass(frozen=True, slots=True)
class DayChange:
    list_id: int
    day: date
    asked: int  # contacts asked for the first time (flags left NULL)
    delta: dict[int, int]  # bit -> net change of contacts holding it


def _bit(column: Any, bit: int) -> Any:
    return sa.func.coalesce(column, 0).op("&")(bit)


def _count_if(condition: Any) -> Any:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _day(column: Any) -> Any:
    return sa.func.date(column)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def coverage_now(tx: Tx, bits: Sequence[int]) -> list[ListCoverage]:
    """Per list: contacts, never asked (NULL), and for each bit the contacts that hold it."""
    columns = [
        sa.func.coalesce(
            sa.func.sum(sa.case((_bit(contacts.c.privacy_flags, b) != 0, 1), else_=0)), 0
        ).label(f"b{b}")
        for b in bits
    ]
    query = (
        sa.select(
            audience_lists.c.id,
            audience_lists.c.name,
            sa.func.count(contacts.c.id).label("n"),
            sa.func.coalesce(
                sa.func.sum(
                    sa.case(
                        (
                            sa.and_(contacts.c.id.is_not(None), contacts.c.privacy_flags.is_(None)),
                            1,
                        ),
                        else_=0,
                    )
                ),
                0,
            ).label("never"),
            *columns,
        )
        .select_from(audience_lists.outerjoin(contacts, contacts.c.list_id == audience_lists.c.id))
        .group_by(audience_lists.c.id, audience_lists.c.name)
        .order_by(audience_lists.c.name)
    )
    return [
        ListCoverage(
            row.id,
            row.name,
            int(row.n),
            int(row.never),
            {b: int(getattr(row, f"b{b}")) for b in bits},
        )
        for row in tx.execute(query)
    ]


def coverage_changes(tx: Tx, bits: Sequence[int]) -> list[DayChange]:
    """Per list and day (UTC), from the ledger: first-time askings and the net change of
    contacts holding each bit."""
    before, after = consent_ledger.c.flags_before, consent_ledger.c.flags_after
    deltas = [
        sa.func.sum(
            sa.case(
                (sa.and_(_bit(before, b) == 0, _bit(after, b) != 0), 1),
                (sa.and_(_bit(before, b) != 0, _bit(after, b) == 0), -1),
                else_=0,
            )
        ).label(f"b{b}")
        for b in bits
    ]
    day = _day(consent_ledger.c.at).label("day")
    query = (
        sa.select(
            consent_ledger.c.list_id,
            day,
            sa.func.sum(sa.case((before.is_(None), 1), else_=0)).label("asked"),
            *deltas,
        )
        .group_by(consent_ledger.c.list_id, day)
        .order_by(day)
    )
    return [
        DayChange(
            row.list_id,
            _as_date(row.day),
            int(row.asked or 0),
            {b: int(getattr(row, f"b{b}") or 0) for b in bits},
        )
        for row in tx.execute(query)
    ]


def contacts_added(tx: Tx) -> list[tuple[int, date, int]]:
    """(list id, day, contacts created that day)."""
    day = _day(contacts.c.created_at).label("day")
    rows = tx.execute(
        sa.select(contacts.c.list_id, day, sa.func.count())
        .group_by(contacts.c.list_id, day)
        .order_by(day)
    )
    return [(row[0], _as_date(row[1]), int(row[2])) for row in rows]


def withdrawals_by_day(tx: Tx) -> list[tuple[date, str, int]]:
    """(day, method, contacts that lost open-tracking consent) from the ledger: the entries
    that `domain.ledger_effects.withdraws` holds true for, counted in SQL."""
    before, after = consent_ledger.c.flags_before, consent_ledger.c.flags_after
    day = _day(consent_ledger.c.at).label("day")
    rows = tx.execute(
        sa.select(day, consent_ledger.c.method, sa.func.count())
        .where(_bit(before, OPEN_TRACKING_BIT) != 0, _bit(after, OPEN_TRACKING_BIT) == 0)
        .group_by(day, consent_ledger.c.method)
        .order_by(day)
    )
    return [(_as_date(row[0]), str(row[1]), int(row[2])) for row in rows]
