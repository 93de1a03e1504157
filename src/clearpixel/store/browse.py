"""Read-only paged queries for the admin UI and the REST API: contacts by list with a search,
ledger entries in pages. Pages use keyset cursors (the last id or seq seen), so their cost does
not grow with the page number."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from clearpixel.domain.ledger import LedgerEntry
from clearpixel.store.contacts import Contact
from clearpixel.store.contacts import _contact as _to_contact
from clearpixel.store.db import Tx
from clearpixel.store.ledger import _entry as _to_entry
from clearpixel.store.schema import consent_ledger, contacts


def contacts_page(
    tx: Tx, list_id: int, *, after: int = 0, limit: int = 50, search: str = ""
) -> list[Contact]:
    """Contacts of a list with id > `after`, in id order; `search` matches part of the email
    (case-insensitive)."""
    query = sa.select(contacts).where(contacts.c.list_id == list_id, contacts.c.id > after)
    if search:
        escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(sa.func.lower(contacts.c.email).like(f"%{escaped}%", escape="\\"))
    rows = tx.execute(query.order_by(contacts.c.id).limit(limit))
    return [_to_contact(row) for row in rows]


def ledger_page(
    tx: Tx, *, after: int = 0, limit: int = 100, contact_id: int | None = None
) -> list[LedgerEntry]:
    """Ledger entries with seq > `after`, in seq order (optionally of one contact)."""
    query = sa.select(consent_ledger).where(consent_ledger.c.seq > after)
    if contact_id is not None:
        query = query.where(consent_ledger.c.contact_id == contact_id)
    rows = tx.execute(query.order_by(consent_ledger.c.seq).limit(limit))
    return [_to_entry(row) for row in rows]


def count_contacts(tx: Tx, list_id: int, *, search: str = "") -> int:
    query: Any = sa.select(sa.func.count()).where(contacts.c.list_id == list_id)
    if search:
        escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(sa.func.lower(contacts.c.email).like(f"%{escaped}%", escape="\\"))
    return int(tx.execute(query).scalar_one())
