"""Right of access: everything clearpixel holds on one address, across every list.

`subject_export` gathers, for each list that holds the address: the membership (status,
dates), the attributes, each purpose's state (never asked, refused, granted), every ledger
entry with the exact notice text shown, the sends (campaign, kind, mode, date), the consent
requests, the personal events (opens and clicks, with the verdict person or machine); for the
address itself, installation-wide: its suppression entry (reason, since when, by whom,
evidence), the log of its additions and removals, and the bounces and complaints recorded for
it; and says what is held without being personal data (anonymous counters). Reads only.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from clearpixel.audience.emails import normalise_email
from clearpixel.consent.history import PurposeState, purpose_states
from clearpixel.consent.links import contact_for, verify_link
from clearpixel.context import Context
from clearpixel.domain.bounces import normalise_address
from clearpixel.domain.erasure import erased_keys
from clearpixel.domain.errors import NotFound
from clearpixel.domain.flags import Purposes
from clearpixel.domain.ledger import LedgerEntry
from clearpixel.domain.tokens import TokenKind
from clearpixel.store import Tx
from clearpixel.store.bounces import bounces_for
from clearpixel.store.contacts import Contact
from clearpixel.store.ledger import entries_for_contact
from clearpixel.store.notices import Notice, notices_by_id
from clearpixel.store.subjects import (
    consent_requests_of,
    contacts_with_address,
    erasure_record,
    personal_events_of,
    sends_of,
)
from clearpixel.store.suppression import get_suppression, log_for

FORMAT = "clearpixel-subject-export/1"
NEVER_ASKED = "never asked"
REFUSED = "refused"
GRANTED = "granted"

NOT_HELD = [
    "Campaign counters (opens and clicks per hour, unique openers, clicks per link) count "
    "people without naming them; they are not personal data and are not listed here.",
    "Opens from emails sent without personal tracking are anonymous counts: nothing links them "
    "to this address.",
    "The IP address and browser of a request to a pixel or a link are used to tell people "
    "from machines and then dropped; they are never stored with an open or a click.",
    "Hits waiting to be counted are kept on disk for a few hours at most, then deleted.",
]


class UnknownSubject(NotFound):
    """No list holds this address."""


# How the export words each state (the states are those of `consent.history.purpose_states`).
STATE_WORDS = {
    PurposeState.NEVER_ASKED: NEVER_ASKED,
    PurposeState.REFUSED: REFUSED,
    PurposeState.GRANTED: GRANTED,
}


def _states(purposes: Purposes, flags: int | None, entries: list[LedgerEntry]) -> dict[str, str]:
    return {v.name: STATE_WORDS[v.state] for v in purpose_states(flags, entries, purposes)}


def _notice(notice: Notice | None) -> dict[str, Any] | None:
    if notice is None:
        return None
    return {
        "purpose": notice.purpose,
        "locale": notice.locale,
        "version": notice.version,
        "sha256": notice.sha256,
        "text": notice.text,
    }


def _entry(entry: LedgerEntry, purposes: Purposes, notice: Notice | None) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at,
        "method": entry.method,
        "granted": purposes.names_in(entry.granted),
        "revoked": purposes.names_in(entry.revoked),
        "flags_before": entry.flags_before,
        "flags_after": entry.flags_after,
        "actor": entry.actor,
        "evidence": dict(entry.evidence),
        "notice": _notice(notice),
        "hash": entry.hash,
    }


def _membership(
    list_name: str,
    contact: Contact,
    purposes: Purposes,
    entries: list[LedgerEntry],
    notices: dict[int, Notice],
    by_contact: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    def mine(kind: str) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in row.items() if k != "contact_id"}
            for row in by_contact[kind]
            if row["contact_id"] == contact.id
        ]

    return {
        "list": list_name,
        "email": contact.email,
        "status": contact.status,
        "created_at": contact.created_at,
        "attributes": contact.attributes,
        "privacy_flags": contact.privacy_flags,
        "purposes": _states(purposes, contact.privacy_flags, entries),
        "last_open_date": contact.last_open_date,
        "last_click_date": contact.last_click_date,
        "consent_requests_paused_until": contact.consent_cooldown_until,
        "ledger": [
            _entry(e, purposes, notices.get(e.notice_id) if e.notice_id else None) for e in entries
        ],
        "sends": mine("sends"),
        "consent_requests": mine("consent_requests"),
        "personal_events": mine("personal_events"),
    }


def subject_export(ctx: Context, email: str) -> dict[str, Any]:
    """Everything held on `email` in every list; raises InvalidEmail or UnknownSubject."""
    address = normalise_email(email)
    with ctx.db.connect() as conn:
        found = contacts_with_address(conn, address)
        suppression = _suppression(conn, normalise_address(address))
        if not found and not any(suppression.values()):
            erased = erasure_record(conn, erased_keys(ctx.settings.secret_keys, address))
            if erased:
                raise UnknownSubject(
                    f"{address!r} was erased on {erased[0]:%Y-%m-%d}: nothing is held on it"
                )
            raise UnknownSubject(
                f"no list holds {address!r}, and it has no suppression entry or bounce"
            )
        ids = [contact.id for _, contact in found]
        entries = {cid: entries_for_contact(conn, cid) for cid in ids}
        notices = notices_by_id(
            conn, [e.notice_id for es in entries.values() for e in es if e.notice_id is not None]
        )
        by_contact = {
            "sends": sends_of(conn, ids),
            "consent_requests": consent_requests_of(conn, ids),
            "personal_events": personal_events_of(conn, ids),
        }
    return {
        "format": FORMAT,
        "generated_at": ctx.now(),
        "organisation": ctx.settings.organisation,
        "privacy_policy_url": ctx.settings.privacy_policy_url,
        "email": address,
        "lists": [
            _membership(name, c, ctx.purposes, entries[c.id], notices, by_contact)
            for name, c in found
        ],
        **suppression,
        "not_held": NOT_HELD,
    }


def _suppression(conn: Tx, address: str) -> dict[str, Any]:
    """The address's suppression entry (None when not listed), its log, and its bounces and
    complaints, newest first."""
    entry = get_suppression(conn, address)
    return {
        "suppression": None
        if entry is None
        else {
            "reason": entry.reason,
            "since": entry.since,
            "by": entry.actor,
            "evidence": entry.evidence,
        },
        "suppression_log": [
            {"action": e.action, "reason": e.reason, "by": e.actor, "at": e.at}
            for e in log_for(conn, address)
        ],
        "bounces": [
            {
                "at": b.at,
                "kind": b.kind,
                "source": b.source,
                "status": b.status,
                "diagnostic": b.diagnostic,
                "evidence": b.evidence,
            }
            for b in bounces_for(conn, address, limit=100_000)
        ],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not serialisable: {type(value).__name__}")


def export_json(export: dict[str, Any]) -> str:
    return json.dumps(export, indent=2, ensure_ascii=False, default=_plain)


_ENV = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(default=True),
)


def export_html(export: dict[str, Any]) -> str:
    """A readable page of `export` (from `subject_export`)."""
    return _ENV.get_template("subject_export.html").render(export=export)


def export_for_link(ctx: Context, token: str) -> dict[str, Any]:
    """The export behind a preference link (`/preferences/{token}/data`): the link's owner owns
    the address in every list. A forged, foreign or dead link raises InvalidLink, like the
    preference page itself."""
    parsed = verify_link(ctx, token, TokenKind.PREFERENCES, now=ctx.now())
    with ctx.db.connect() as conn:
        contact = contact_for(conn, parsed.contact_id)
    return subject_export(ctx, contact.email)
