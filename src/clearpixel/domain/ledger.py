"""The consent ledger's vocabulary: how a decision reached it (`Method`), a requested change
(`Decision`), a chained entry as stored (`LedgerEntry`), and the fold that rebuilds flags from
entries.

Every change to a contact's `privacy_flags` is one entry (DESIGN R10). What a change sets off
beyond the flags is in `domain.ledger_effects`; how entries are hashed, chained and verified
(R11), with the commitment that keeps personal fields out of the chain, in
`domain.ledger_chain`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from clearpixel.domain.flags import apply


class Method(StrEnum):
    """How a decision reached the ledger."""

    SIGNUP_FORM = "signup_form"
    CONSENT_PAGE = "consent_page"
    CONSENT_PAGE_NO_ACTION = "consent_page_no_action"
    PREFERENCE_PAGE = "preference_page"
    ONE_CLICK_WITHDRAWAL = "one_click_withdrawal"
    IMPORT = "import"
    API = "api"
    API_CONTACT = "api_contact"  # the contact's own choice, relayed by an API key holder
    BULK = "bulk"
    ADMIN = "admin"
    ERASURE = "erasure"  # the person was erased: flags cleared, no personal data in the entry


# Decisions a person made: logged even when the flags do not change, as proof of the choice.
PERSONAL_METHODS = frozenset(
    {
        Method.SIGNUP_FORM,
        Method.CONSENT_PAGE,
        Method.CONSENT_PAGE_NO_ACTION,
        Method.PREFERENCE_PAGE,
        Method.ONE_CLICK_WITHDRAWAL,
    }
)


# Decisions the person made themselves (R19): what they refuse or withdraw this way, no bulk
# path (bulk grant, import, an operator's API call) may grant again; only their own later
# choice lifts it. An admin decision records a choice the contact made elsewhere (a letter,
# a call), `api_contact` one made where the contact is signed in to the organisation's own
# systems. A page left unanswered (`consent_page_no_action`) is no one's own refusal.
OWN_CHOICE_METHODS = frozenset(
    {
        Method.SIGNUP_FORM,
        Method.CONSENT_PAGE,
        Method.PREFERENCE_PAGE,
        Method.ONE_CLICK_WITHDRAWAL,
        Method.ADMIN,
        Method.API_CONTACT,
    }
)


@dataclass(frozen=True, slots=True)
class Decision:
    """One requested change to one contact's flags, before it is chained."""

    contact_id: int
    list_id: int
    email: str
    granted: int
    revoked: int
    method: Method
    at: datetime
    actor: str = ""
    notice_id: int | None = None
    notice_sha256: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A chained ledger entry as stored."""

    seq: int
    contact_id: int
    list_id: int
    email: str
    at: datetime
    method: str
    granted: int
    revoked: int
    flags_before: int | None
    flags_after: int
    actor: str
    notice_id: int | None
    notice_sha256: str | None
    evidence: Mapping[str, Any]
    prev_hash: str
    hash: str
    personal: str = ""  # the commitment to email and evidence, what the hash covers
    salt: str | None = None  # None when the opening was erased (email "" and evidence {})

    @property
    def erased(self) -> bool:
        return self.salt is None


def fold(entries: Iterable[LedgerEntry]) -> dict[int, int | None]:
    """Replay entries in order: contact id to the flags the ledger says it must have."""
    flags: dict[int, int | None] = {}
    for entry in entries:
        flags[entry.contact_id] = apply(
            flags.get(entry.contact_id), granted=entry.granted, revoked=entry.revoked
        )
    return flags
