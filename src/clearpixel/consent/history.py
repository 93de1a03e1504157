"""A contact's consent as people read it: each purpose granted, refused or never asked, and
the ledger history behind it. The CLI (`consent show`), the consent pages and the API all
read it from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from clearpixel.domain.flags import OPEN_TRACKING_BIT, Purposes
from clearpixel.domain.ledger import PERSONAL_METHODS, LedgerEntry
from clearpixel.store import Database, Tx
from clearpixel.store.contacts import Contact, UnknownContact, find_contact
from clearpixel.store.ledger import entries_for_contact
from clearpixel.store.lists import get_list


class PurposeState(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"
    NEVER_ASKED = "never_asked"


@dataclass(frozen=True, slots=True)
class PurposeView:
    name: str
    bit: int
    state: PurposeState


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One ledger entry, with its bits named."""

    seq: int
    at: datetime
    method: str
    granted: list[str]
    revoked: list[str]
    flags_before: int | None
    flags_after: int
    actor: str
    notice_id: int | None
    notice_sha256: str | None
    evidence: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "method": self.method,
            "granted": self.granted,
            "revoked": self.revoked,
            "flags_before": self.flags_before,
            "flags_after": self.flags_after,
            "actor": self.actor,
            "notice_id": self.notice_id,
            "notice_sha256": self.notice_sha256,
            "evidence": dict(self.evidence),
        }


@dataclass(frozen=True, slots=True)
class ConsentView:
    contact: Contact
    list_name: str
    purposes: list[PurposeView]
    history: list[HistoryItem]

    def as_dict(self) -> dict[str, Any]:
        return {
            "email": self.contact.email,
            "list": self.list_name,
            "contact_id": self.contact.id,
            "status": self.contact.status,
            "privacy_flags": self.contact.privacy_flags,
            "purposes": {p.name: str(p.state) for p in self.purposes},
            "history": [item.as_dict() for item in self.history],
        }


def contact_history(tx: Tx, contact_id: int, purposes: Purposes) -> list[HistoryItem]:
    """The contact's ledger entries, oldest first, with purpose names instead of bits."""
    return [_item(entry, purposes) for entry in entries_for_contact(tx, contact_id)]


def purpose_states(
    flags: int | None, history: list[HistoryItem], purposes: Purposes
) -> list[PurposeView]:
    """Per purpose: granted (bit set); never asked (flags NULL, or no decision ever concerned
    that purpose); refused (bit clear after a decision that concerned it: a revoke of it, a
    choice a person made on a form or page, or, for open tracking, any recorded value, since
    0 in `privacy_flags` means "asked, no consent")."""
    asked_all = any(item.method in PERSONAL_METHODS for item in history)
    revoked = {name for item in history for name in item.revoked}
    views = []
    for purpose in purposes:
        if flags is not None and flags & purpose.bit:
            state = PurposeState.GRANTED
        elif flags is None:
            state = PurposeState.NEVER_ASKED
        elif asked_all or purpose.name in revoked or purpose.bit == OPEN_TRACKING_BIT:
            state = PurposeState.REFUSED
        else:
            state = PurposeState.NEVER_ASKED
        views.append(PurposeView(purpose.name, purpose.bit, state))
    return views


def contact_states(tx: Tx, contact: Contact, purposes: Purposes) -> list[PurposeView]:
    """The contact's state per purpose, as every page, command and API answer states it."""
    return purpose_states(
        contact.privacy_flags, contact_history(tx, contact.id, purposes), purposes
    )


def consent_view(db: Database, purposes: Purposes, *, list_name: str, email: str) -> ConsentView:
    """The consent of `email` (already normalised) in `list_name`.

    Raises UnknownList or UnknownContact naming what is missing.
    """
    with db.connect() as conn:
        target = get_list(conn, list_name)
        contact = find_contact(conn, target.id, email)
        if contact is None:
            raise UnknownContact(f"no contact {email!r} in list {list_name!r}")
        history = contact_history(conn, contact.id, purposes)
    return ConsentView(
        contact=contact,
        list_name=target.name,
        purposes=purpose_states(contact.privacy_flags, history, purposes),
        history=history,
    )


def _item(entry: LedgerEntry, purposes: Purposes) -> HistoryItem:
    return HistoryItem(
        seq=entry.seq,
        at=entry.at,
        method=entry.method,
        granted=_names(entry.granted, purposes),
        revoked=_names(entry.revoked, purposes),
        flags_before=entry.flags_before,
        flags_after=entry.flags_after,
        actor=entry.actor,
        notice_id=entry.notice_id,
        notice_sha256=entry.notice_sha256,
        evidence=entry.evidence,
    )


def _names(bits: int, purposes: Purposes) -> list[str]:
    names = purposes.names_in(bits)
    unknown = bits & ~purposes.all_bits
    return [*names, f"bit {unknown}"] if unknown else names
