"""Named queries for contacts. Flags are written only through `store.ledger`, which the one
consent writer (`consent/writer.py`) calls; nothing here changes `privacy_flags`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from clearpixel.domain.errors import NotFound
from clearpixel.store.db import Tx
from clearpixel.store.schema import contacts
from clearpixel.store.webhooks import enqueue_unsubscribed

SUBSCRIBED = "subscribed"
UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    list_id: int
    email: str
    attributes: dict[str, Any]
    privacy_flags: int | None
    status: str
    last_open_date: date | None
    last_click_date: date | None
    consent_cooldown_until: datetime | None
    created_at: datetime
    refused_flags: int = 0  # bits the contact refused or withdrew themselves (R19)

    @property
    def locale(self) -> str:
        value = self.attributes.get("locale")
        return str(value) if value else ""


class UnknownContact(NotFound):
    """No such contact."""


def _contact(row: sa.Row[Any]) -> Contact:
    return Contact(
        id=row.id,
        list_id=row.list_id,
        email=row.email,
        attributes=dict(row.attributes or {}),
        privacy_flags=row.privacy_flags,
        status=row.status,
        last_open_date=row.last_open_date,
        last_click_date=row.last_click_date,
        consent_cooldown_until=row.consent_cooldown_until,
        created_at=row.created_at,
        refused_flags=row.refused_flags,
    )


def get_contact(tx: Tx, contact_id: int) -> Contact:
    row = tx.execute(sa.select(contacts).where(contacts.c.id == contact_id)).first()
    if row is None:
        raise UnknownContact(f"no contact with id {contact_id}")
    return _contact(row)


def find_contact(tx: Tx, list_id: int, email: str) -> Contact | None:
    row = tx.execute(
        sa.select(contacts).where(contacts.c.list_id == list_id, contacts.c.email == email)
    ).first()
    return _contact(row) if row else None


def contacts_by_email(tx: Tx, list_id: int, emails: Sequence[str]) -> dict[str, Contact]:
    """The contacts of one list among `emails`, keyed by email (one query per 1,000).

    PostgreSQL joins an unnested array instead: its planner then walks the (list_id, email)
    index even while an import's own uncommitted rows leave the table statistics stale.
    """
    found: dict[str, Contact] = {}
    if tx.dialect.name == "postgresql" and emails:
        wanted = (
            sa.func.unnest(sa.bindparam("emails", type_=ARRAY(sa.String)))
            .table_valued("email")
            .render_derived(name="wanted")
        )
        rows = tx.execute(
            sa.select(contacts).join(
                wanted, sa.and_(contacts.c.list_id == list_id, contacts.c.email == wanted.c.email)
            ),
            {"emails": list(emails)},
        )
        return {row.email: _contact(row) for row in rows}
    for start in range(0, len(emails), 1000):
        chunk = emails[start : start + 1000]
        rows = tx.execute(
            sa.select(contacts).where(contacts.c.list_id == list_id, contacts.c.email.in_(chunk))
        )
        found.update((row.email, _contact(row)) for row in rows)
    return found


def lock_contacts(tx: Tx, contact_ids: Sequence[int]) -> dict[int, Contact]:
    """Read contacts for update: on PostgreSQL their rows stay locked until the transaction
    ends, so two decisions on one contact apply in turn. (SQLite's BEGIN IMMEDIATE already
    serialises writers.)"""
    found: dict[int, Contact] = {}
    for start in range(0, len(contact_ids), 1000):
        chunk = contact_ids[start : start + 1000]
        query = sa.select(contacts).where(contacts.c.id.in_(chunk)).order_by(contacts.c.id)
        if tx.dialect.name == "postgresql":
            query = query.with_for_update()
        found.update((row.id, _contact(row)) for row in tx.execute(query))
    return found


def insert_contacts(tx: Tx, rows: Iterable[dict[str, Any]], *, now: datetime) -> list[int]:
    """Insert new contacts (email, list_id, attributes); flags start NULL. Returns their ids."""
    ids: list[int] = []
    for row in rows:
        ids.append(
            tx.execute(
                contacts.insert()
                .values(
                    list_id=row["list_id"],
                    email=row["email"],
                    attributes=row.get("attributes", {}),
                    privacy_flags=None,
                    created_at=now,
                    updated_at=now,
                )
                .returning(contacts.c.id)
            ).scalar_one()
        )
    return ids


def update_attributes(
    tx: Tx, contact_id: int, attributes: dict[str, Any], *, now: datetime
) -> None:
    tx.execute(
        contacts.update()
        .where(contacts.c.id == contact_id)
        .values(attributes=attributes, updated_at=now)
    )


def set_status(tx: Tx, contact_id: int, status: str, *, now: datetime) -> None:
    """Subscribe or unsubscribe a contact (separate from tracking consent, R16). An
    unsubscription also queues a `contact.unsubscribed` webhook event in the same transaction."""
    tx.execute(
        contacts.update().where(contacts.c.id == contact_id).values(status=status, updated_at=now)
    )
    if status == UNSUBSCRIBED:
        enqueue_unsubscribed(tx, contact_id, now=now)


def set_cooldown(tx: Tx, contact_ids: Sequence[int], until: datetime) -> None:
    """No consent request goes to these contacts before `until` (R8)."""
    for start in range(0, len(contact_ids), 1000):
        tx.execute(
            contacts.update()
            .where(contacts.c.id.in_(contact_ids[start : start + 1000]))
            .values(consent_cooldown_until=until)
        )


def clear_activity_dates(tx: Tx, contact_ids: Sequence[int]) -> None:
    """Withdrawal (R5, R20): `last_open_date` and `last_click_date` of these contacts go."""
    for start in range(0, len(contact_ids), 1000):
        tx.execute(
            contacts.update()
            .where(contacts.c.id.in_(contact_ids[start : start + 1000]))
            .values(last_open_date=None, last_click_date=None)
        )


def iter_contacts(tx: Tx, list_id: int, *, batch: int = 5000) -> Iterator[Contact]:
    """Every contact of a list in id order, read in batches (memory stays flat)."""
    last = 0
    while True:
        rows = tx.execute(
            sa.select(contacts)
            .where(contacts.c.list_id == list_id, contacts.c.id > last)
            .order_by(contacts.c.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield _contact(row)
        last = rows[-1].id


def iter_all_consent(tx: Tx, *, batch: int = 20000) -> Iterator[tuple[int, int | None, int]]:
    """(contact id, privacy_flags, refused_flags) for every contact, in id order."""
    last = 0
    while True:
        rows = tx.execute(
            sa.select(contacts.c.id, contacts.c.privacy_flags, contacts.c.refused_flags)
            .where(contacts.c.id > last)
            .order_by(contacts.c.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from ((row.id, row.privacy_flags, row.refused_flags) for row in rows)
        last = rows[-1].id


def iter_all_flags(tx: Tx, *, batch: int = 20000) -> Iterator[tuple[int, int | None]]:
    """(contact id, privacy_flags) for every contact, in id order."""
    return ((cid, flags) for cid, flags, _ in iter_all_consent(tx, batch=batch))


# --- bulk reads and writes for import, export and bulk flag changes ---------------------------


@dataclass(frozen=True, slots=True)
class NewContact:
    email: str
    attributes: dict[str, Any]
    status: str = SUBSCRIBED


def insert_contacts_many(
    tx: Tx, list_id: int, rows: Sequence[NewContact], *, now: datetime
) -> list[int]:
    """Insert new contacts of one list (flags NULL); returns their ids in the order given.

    PostgreSQL takes the ids from the sequence first and writes the rows with COPY.
    """
    if not rows:
        return []
    if tx.dialect.name == "postgresql":
        ids = [
            int(value)
            for value in tx.exec_driver_sql(
                "SELECT nextval(pg_get_serial_sequence('contacts', 'id')) "
                "FROM generate_series(1, %(n)s)",
                {"n": len(rows)},
            ).scalars()
        ]
        raw = tx.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy(
                "COPY contacts (id, list_id, email, attributes, status, created_at, updated_at) "
                "FROM STDIN"
            ) as copy,
        ):
            for new_id, row in zip(ids, rows, strict=True):
                copy.write_row(
                    (new_id, list_id, row.email, _json(row.attributes), row.status, now, now)
                )
        return ids
    result = tx.execute(
        contacts.insert().returning(contacts.c.id, sort_by_parameter_order=True),
        [
            {
                "list_id": list_id,
                "email": row.email,
                "attributes": row.attributes,
                "status": row.status,
                "privacy_flags": None,
                "created_at": now,
                "updated_at": now,
            }
            for row in rows
        ],
    )
    return [int(value) for value in result.scalars()]


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def update_contacts_many(
    tx: Tx, changes: Sequence[tuple[int, dict[str, Any], str]], *, now: datetime
) -> None:
    """Write (contact id, attributes, status) for existing contacts."""
    if not changes:
        return
    tx.execute(
        contacts.update()
        .where(contacts.c.id == sa.bindparam("cid"))
        .values(
            attributes=sa.bindparam("attrs"),
            status=sa.bindparam("st"),
            updated_at=sa.bindparam("now"),
        ),
        [{"cid": cid, "attrs": attrs, "st": st, "now": now} for cid, attrs, st in changes],
    )


@dataclass(frozen=True, slots=True)
class FlagRow:
    id: int
    email: str
    privacy_flags: int | None


def iter_flag_targets(
    tx: Tx, list_id: int, *, bit: int, grant: bool, only_null: bool, batch: int = 20000
) -> Iterator[list[FlagRow]]:
    """Batches of the list's contacts that a bulk grant or revoke of `bit` would change.

    Grant: flags NULL or without the bit, and not refused by the contact themselves (R19).
    Revoke: flags with the bit. `only_null` narrows either to contacts whose flags are NULL
    (never asked).
    """
    flags = contacts.c.privacy_flags
    if only_null:
        condition: sa.ColumnElement[bool] = flags.is_(None)
    elif grant:
        condition = sa.and_(
            sa.or_(flags.is_(None), flags.op("&")(bit) == 0),
            contacts.c.refused_flags.op("&")(bit) == 0,
        )
    else:
        condition = sa.and_(flags.is_not(None), flags.op("&")(bit) != 0)
    last = 0
    while True:
        rows = tx.execute(
            sa.select(contacts.c.id, contacts.c.email, flags)
            .where(contacts.c.list_id == list_id, contacts.c.id > last, condition)
            .order_by(contacts.c.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield [FlagRow(row.id, row.email, row.privacy_flags) for row in rows]
        last = rows[-1].id


def count_refusing(tx: Tx, list_id: int, bit: int) -> int:
    """Contacts of the list without `bit` because they refused or withdrew it themselves."""
    flags = contacts.c.privacy_flags
    return int(
        tx.execute(
            sa.select(sa.func.count())
            .select_from(contacts)
            .where(
                contacts.c.list_id == list_id,
                contacts.c.refused_flags.op("&")(bit) != 0,
                sa.or_(flags.is_(None), flags.op("&")(bit) == 0),
            )
        ).scalar_one()
    )


def attribute_keys(tx: Tx, list_id: int) -> list[str]:
    """Every attribute name used by the list's contacts, sorted."""
    if tx.dialect.name == "postgresql":
        query = sa.text(
            "SELECT DISTINCT jsonb_object_keys(attributes) AS k FROM contacts WHERE list_id = :l"
        )
    else:
        query = sa.text(
            "SELECT DISTINCT j.key AS k FROM contacts, json_each(contacts.attributes) AS j "
            "WHERE contacts.list_id = :l"
        )
    return sorted(str(row.k) for row in tx.execute(query, {"l": list_id}))
