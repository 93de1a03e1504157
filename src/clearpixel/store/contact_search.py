"""Contacts of a list read in pages, with a search on the address, for the admin UI and the
REST API. Pages use keyset cursors (the last id seen), so their cost does not grow with the
page number."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from clearpixel.store.contacts import Contact
from clearpixel.store.contacts import _contact as _to_contact
from clearpixel.store.db import Tx
from clearpixel.store.schema import contacts


def _email_contains(search: str) -> sa.ColumnElement[bool]:
    """The email holds `search`, case-insensitively, with LIKE's wildcards taken literally."""
    escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.func.lower(contacts.c.email).like(f"%{escaped}%", escape="\\")


def _narrowed(
    query: Any, search: str, status: str | None, bit: int | None, bit_set: bool | None
) -> Any:
    """`query` limited to emails holding `search`, to a subscription `status`, and to
    contacts whose flags have `bit` set (`bit_set` True) or not (False: NULL or clear)."""
    if search:
        query = query.where(_email_contains(search))
    if status:
        query = query.where(contacts.c.status == status)
    if bit is not None and bit_set is not None:
        has = contacts.c.privacy_flags.op("&")(bit) != 0
        query = query.where(
            has if bit_set else sa.or_(contacts.c.privacy_flags.is_(None), sa.not_(has))
        )
    return query


def contacts_page(
    tx: Tx,
    list_id: int,
    *,
    after: int = 0,
    limit: int = 50,
    search: str = "",
    status: str | None = None,
    bit: int | None = None,
    bit_set: bool | None = None,
) -> list[Contact]:
    """Contacts of a list with id > `after`, in id order; `search` matches part of the email
    (case-insensitive); `status`, `bit` and `bit_set` narrow as `_narrowed` says."""
    query = sa.select(contacts).where(contacts.c.list_id == list_id, contacts.c.id > after)
    query = _narrowed(query, search, status, bit, bit_set)
    rows = tx.execute(query.order_by(contacts.c.id).limit(limit))
    return [_to_contact(row) for row in rows]


def count_contacts(
    tx: Tx,
    list_id: int,
    *,
    search: str = "",
    status: str | None = None,
    bit: int | None = None,
    bit_set: bool | None = None,
) -> int:
    """How many contacts the list holds, narrowed as `contacts_page` narrows (nothing by
    default: the whole list)."""
    query: Any = sa.select(sa.func.count()).where(contacts.c.list_id == list_id)
    query = _narrowed(query, search, status, bit, bit_set)
    return int(tx.execute(query).scalar_one())
