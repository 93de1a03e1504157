"""Named queries of the signup form: the contact for an address, created if absent, safe when
two signups of one new address arrive at once (the unique (list, email) constraint settles it
and both get the same row)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearpixel.store.db import Tx
from clearpixel.store.schema import contacts


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
