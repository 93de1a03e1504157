"""Named queries for consent notices: versioned texts per purpose and language, stored verbatim
with their SHA-256 so a ledger entry can name exactly what the person read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearpixel.domain.errors import NotFound
from clearpixel.store.db import Tx
from clearpixel.store.schema import notices


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    purpose: str
    locale: str
    version: int
    text: str
    sha256: str
    created_at: datetime


class UnknownNotice(NotFound):
    """No such notice."""


def _notice(row: sa.Row[Any]) -> Notice:
    return Notice(
        id=row.id,
        purpose=row.purpose,
        locale=row.locale,
        version=row.version,
        text=row.text,
        sha256=row.sha256,
        created_at=row.created_at,
    )


def insert_notice(
    tx: Tx, *, purpose: str, locale: str, text: str, sha256: str, now: datetime
) -> Notice:
    """Store `text` as the next version for (purpose, locale). Versions are never edited."""
    version = (
        tx.execute(
            sa.select(sa.func.coalesce(sa.func.max(notices.c.version), 0)).where(
                notices.c.purpose == purpose, notices.c.locale == locale
            )
        ).scalar_one()
        + 1
    )
    new_id = tx.execute(
        notices.insert()
        .values(
            purpose=purpose,
            locale=locale,
            version=version,
            text=text,
            sha256=sha256,
            created_at=now,
        )
        .returning(notices.c.id)
    ).scalar_one()
    return Notice(new_id, purpose, locale, version, text, sha256, now)


def insert_first_version(
    tx: Tx, *, purpose: str, locale: str, text: str, sha256: str, now: datetime
) -> None:
    """Store version 1 for (purpose, locale) unless some version exists; safe when two
    processes load the defaults at once (the unique version constraint settles it)."""
    if tx.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(notices)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(notices)
    tx.execute(
        stmt.values(
            purpose=purpose, locale=locale, version=1, text=text, sha256=sha256, created_at=now
        ).on_conflict_do_nothing(index_elements=["purpose", "locale", "version"])
    )


def latest_notice(tx: Tx, purpose: str, locale: str) -> Notice | None:
    """The newest version of the notice for (purpose, locale), if any."""
    row = tx.execute(
        sa.select(notices)
        .where(notices.c.purpose == purpose, notices.c.locale == locale)
        .order_by(notices.c.version.desc())
        .limit(1)
    ).first()
    return _notice(row) if row else None


def get_notice(tx: Tx, notice_id: int) -> Notice:
    row = tx.execute(sa.select(notices).where(notices.c.id == notice_id)).first()
    if row is None:
        raise UnknownNotice(f"no notice with id {notice_id}")
    return _notice(row)


def notices_by_id(tx: Tx, ids: list[int]) -> dict[int, Notice]:
    if not ids:
        return {}
    rows = tx.execute(sa.select(notices).where(notices.c.id.in_(sorted(set(ids)))))
    return {row.id: _notice(row) for row in rows}


def all_notices(tx: Tx) -> list[Notice]:
    """Every stored version, by purpose, locale and version."""
    rows = tx.execute(
        sa.select(notices).order_by(notices.c.purpose, notices.c.locale, notices.c.version)
    )
    return [_notice(row) for row in rows]
