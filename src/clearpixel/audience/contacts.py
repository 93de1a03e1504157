"""Contacts as the admin UI and the REST API see them: create, read, update attributes, page
through a list with a search, read a contact's ledger history. Flags are never written here:
they change only through `consent.record_decision(s)`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from clearpixel.audience.emails import normalise_email
from clearpixel.consent.history import contact_states
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.ledger import LedgerEntry
from clearpixel.store import contact_search, ledger_entries
from clearpixel.store import contacts as store
from clearpixel.store.contacts import Contact
from clearpixel.store.ledger import entries_for_contact
from clearpixel.store.lists import AudienceList, get_list_by_id

MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_TEXT = 2000
RESERVED = frozenset({"email", "privacy_flags", "status", "id", "list_id"})


class ContactExists(ClearpixelError):
    """The list already has a contact with that address."""


def check_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes are flat: names are identifiers-like text, values are text, numbers, true/false
    or null. Raises ClearpixelError naming the first bad one."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise ClearpixelError(f"at most {MAX_ATTRIBUTES} attributes per contact")
    clean: dict[str, Any] = {}
    for name, value in attributes.items():
        if not name or len(name) > 64 or "\x00" in name:
            raise ClearpixelError(f"attribute name {name[:64]!r} must have 1 to 64 characters")
        if name in RESERVED:
            raise ClearpixelError(f"attribute name {name!r} is reserved")
        if isinstance(value, str):
            if len(value) > MAX_ATTRIBUTE_TEXT or "\x00" in value:
                raise ClearpixelError(f"attribute {name!r}: text too long or with a NUL character")
        elif isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, int):
            if abs(value) >= 2**53:
                raise ClearpixelError(f"attribute {name!r}: integer out of range")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ClearpixelError(f"attribute {name!r}: number must be finite")
        else:
            raise ClearpixelError(f"attribute {name!r}: only text, numbers, true/false or null")
        clean[name] = value
    return clean


def get_list(ctx: Context, list_id: int) -> AudienceList:
    with ctx.db.connect() as conn:
        return get_list_by_id(conn, list_id)


def create_contact(
    ctx: Context, list_id: int, email: str, attributes: Mapping[str, Any] | None = None
) -> Contact:
    """Add a contact to a list; its flags start NULL (never asked). Raises ContactExists."""
    address = normalise_email(email)
    clean = check_attributes(attributes or {})
    with ctx.db.begin() as tx:
        get_list_by_id(tx, list_id).check_open()
        if store.find_contact(tx, list_id, address):
            raise ContactExists(f"{address} is already in list {list_id}")
        (new_id,) = store.insert_contacts(
            tx, [{"list_id": list_id, "email": address, "attributes": clean}], now=ctx.now()
        )
        return store.get_contact(tx, new_id)


def get_contact(ctx: Context, contact_id: int) -> Contact:
    with ctx.db.connect() as conn:
        return store.get_contact(conn, contact_id)


def update_attributes(
    ctx: Context, contact_id: int, changes: Mapping[str, Any], *, replace: bool = False
) -> Contact:
    """Merge `changes` into the contact's attributes (a null value removes one), or replace them
    all. Never touches flags or status."""
    clean = check_attributes(changes)
    with ctx.db.begin() as tx:
        contact = store.get_contact(tx, contact_id)
        merged = {} if replace else dict(contact.attributes)
        for name, value in clean.items():
            if value is None and not replace:
                merged.pop(name, None)
            else:
                merged[name] = value
        check_attributes(merged)
        store.update_attributes(tx, contact_id, merged, now=ctx.now())
        return store.get_contact(tx, contact_id)


def contacts_page(
    ctx: Context, list_id: int, *, after: int = 0, limit: int = 50, search: str = ""
) -> list[Contact]:
    """One page of a list's contacts in id order, after the contact id `after`."""
    with ctx.db.connect() as conn:
        get_list_by_id(conn, list_id)
        return contact_search.contacts_page(conn, list_id, after=after, limit=limit, search=search)


def count_contacts(ctx: Context, list_id: int, *, search: str = "") -> int:
    with ctx.db.connect() as conn:
        return contact_search.count_contacts(conn, list_id, search=search)


def history(ctx: Context, contact_id: int) -> list[LedgerEntry]:
    """The contact's ledger entries, oldest first."""
    with ctx.db.connect() as conn:
        return entries_for_contact(conn, contact_id)


def ledger_page(ctx: Context, *, after: int = 0, limit: int = 100) -> list[LedgerEntry]:
    """Ledger entries after seq `after`, in chain order."""
    with ctx.db.connect() as conn:
        return ledger_entries.ledger_page(conn, after=after, limit=limit)


def consent_states(ctx: Context, contact: Contact) -> dict[str, str]:
    """Per purpose: never_asked, refused or granted (consent/history.py, the one function
    every page, command and API answer states it with)."""
    with ctx.db.connect() as conn:
        return {v.name: str(v.state) for v in contact_states(conn, contact, ctx.purposes)}
