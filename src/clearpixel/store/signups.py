"""Named queries of the signup form: the contact for an address, created if absent, safe when
two signups of one new address arrive at once (the unique (list, email) constraint settles it
and both get the same row); and the signups waiting for their owner's confirmation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearpixel.store.db import Tx, as_utc
from clearpixel.store.schema import audience_lists, contacts, pending_signups


def contact_for_signup(
    tx: Tx, list_id: int, email: str, attributes: dict[str, Any], *, now: datetime
) -> tuple[int, bool]:
    """(contact id, created) for `email` in `list_id`; a new contact starts with NULL flags."""
    if tx.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        insert: Any = pg_insert(contacts)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        insert = sqlite_insert(contacts)
    created = tx.execute(
        insert.values(
            list_id=list_id,
            email=email,
            attributes=attributes,
            privacy_flags=None,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["list_id", "email"])
        .returning(contacts.c.id)
    ).scalar_one_or_none()
    if created is not None:
        return int(created), True
    found = tx.execute(
        sa.select(contacts.c.id).where(contacts.c.list_id == list_id, contacts.c.email == email)
    ).scalar_one()
    return int(found), False


def lock_signups(tx: Tx, list_id: int) -> None:
    """Serialise the signups of one list until `tx` ends (PostgreSQL locks the list's row;
    SQLite's BEGIN IMMEDIATE already serialises writers)."""
    if tx.dialect.name == "postgresql":
        tx.execute(
            sa.select(audience_lists.c.id).where(audience_lists.c.id == list_id).with_for_update()
        )


def contact_exists(tx: Tx, list_id: int, email: str) -> bool:
    query = sa.select(contacts.c.id).where(contacts.c.list_id == list_id, contacts.c.email == email)
    return tx.execute(query).first() is not None


@dataclass(frozen=True, slots=True)
class PendingSignup:
    id: int
    list_id: int
    email: str
    ticked: int
    notice_ids: dict[str, int]
    locale: str
    evidence: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    confirmed_at: datetime | None


def insert_pending(
    tx: Tx,
    *,
    list_id: int,
    email: str,
    ticked: int,
    notice_ids: dict[str, int],
    locale: str,
    evidence: dict[str, Any],
    network: str,
    now: datetime,
    expires_at: datetime,
) -> int:
    """Store a signup waiting for confirmation; returns its id."""
    return int(
        tx.execute(
            pending_signups.insert()
            .values(
                list_id=list_id,
                email=email,
                ticked=ticked,
                notice_ids=notice_ids,
                locale=locale,
                evidence=evidence,
                network=network,
                created_at=now,
                expires_at=expires_at,
            )
            .returning(pending_signups.c.id)
        ).scalar_one()
    )


def count_recent(tx: Tx, *, since: datetime, email: str = "", network: str = "") -> int:
    """Signups stored since `since` for one address (any list) or from one network."""
    column = pending_signups.c.email if email else pending_signups.c.network
    query = (
        sa.select(sa.func.count())
        .select_from(pending_signups)
        .where(column == (email or network), pending_signups.c.created_at >= since)
    )
    return int(tx.execute(query).scalar_one())


def get_pending(tx: Tx, signup_id: int) -> PendingSignup | None:
    row = tx.execute(sa.select(pending_signups).where(pending_signups.c.id == signup_id)).first()
    if row is None:
        return None
    return PendingSignup(
        id=row.id,
        list_id=row.list_id,
        email=row.email,
        ticked=row.ticked,
        notice_ids={str(k): int(v) for k, v in dict(row.notice_ids or {}).items()},
        locale=row.locale,
        evidence=dict(row.evidence or {}),
        created_at=as_utc(row.created_at),
        expires_at=as_utc(row.expires_at),
        confirmed_at=as_utc(row.confirmed_at) if row.confirmed_at else None,
    )


def claim_pending(tx: Tx, signup_id: int, *, now: datetime) -> bool:
    """Mark the signup confirmed, once: False when it was confirmed already or has expired."""
    result = tx.execute(
        pending_signups.update()
        .where(
            pending_signups.c.id == signup_id,
            pending_signups.c.confirmed_at.is_(None),
            pending_signups.c.expires_at > now,
        )
        .values(confirmed_at=now)
    )
    return bool(result.rowcount)


def purge_pending(tx: Tx, *, before: datetime) -> int:
    """Delete the signups whose link expired before `before`, confirmed or not."""
    return int(
        tx.execute(pending_signups.delete().where(pending_signups.c.expires_at < before)).rowcount
    )
