"""A contact's consent as people read it: each purpose granted, refused or never asked, and
the ledger history behind it. The CLI (`consent show`), the consent pages and the API all
read it from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from clearpixel.domain.flags import Purposes
from clearpixel.domain.ledger import LedgerEntry
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


def purpose_states(
    flags: int | None, entries: Sequence[LedgerEntry], purposes: Purposes
) -> list[PurposeView]:
    """Per purpose: granted (bit set); refused (bit clear, and a decision asked about it);
    never asked (flags NULL, or no decision asked about it).

    A decision asked about a purpose when it named the purpose's bit (granted or revoked
    it: a form or the preference page names every purpose it shows, a consent page only
    open tracking), or when it recorded 0 from NULL naming no purpose at all (an import's
    0: "asked, nothing granted", DESIGN §1). Every page, command, API answer and the
    subject export state purposes through this one function.
    """
    asked = 0
    for entry in entries:
        named = entry.granted | entry.revoked
        if not named and entry.flags_before is None and entry.flags_after == 0:
            named = purposes.all_bits
        asked |= named
    views = []
    for purpose in purposes:
        if flags is None:
            state = PurposeState.NEVER_ASKED
        elif flags & purpose.bit:
            state = PurposeState.GRANTED
        elif asked & purpose.bit:
            state = PurposeState.REFUSED
        else:
            state = PurposeState.NEVER_ASKED
        views.append(PurposeView(purpose.name, purpose.bit, state))
    return views


def contact_states(tx: Tx, contact: Contact, purposes: Purposes) -> list[PurposeView]:
    """The contact's state per purpose, as every page, command and API answer states it."""
    return purpose_states(contact.privacy_flags, entries_for_contact(tx, contact.id), purposes)


def consent_view(db: Database, purposes: Purposes, *, list_name: str, email: str) -> ConsentView:
    """The consent of `email` (already normalised) in `list_name`.

    Raises UnknownList or UnknownContact naming what is missing.
    """
    with db.connect() as conn:
        target = get_list(conn, list_name)
        contact = find_contact(conn, target.id, email)
        if contact is None:
            raise UnknownContact(f"no contact {email!r} in list {list_name!r}")
        entries = entries_for_contact(conn, contact.id)
    return ConsentView(
        contact=contact,
        list_name=target.name,
        purposes=purpose_states(contact.privacy_flags, entries, purposes),
        history=[_item(entry, purposes) for entry in entries],
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
