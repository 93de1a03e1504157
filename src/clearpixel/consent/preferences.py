"""The preference page (footer link of tracked mail) and the unsubscribe endpoints.

Reading the page changes nothing. `withdraw_all` is the page's single "stop tracking" action:
its script sends it on arrival (with the page's CSRF pair), and without a script it is the one
button. Granting again needs an explicit choice (`save_choices`: boxes ticked and saved).
Unsubscribing changes the subscription status only; tracking consent stays as it was (R16).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clearpixel.accounts import csrf
from clearpixel.consent.decisions import record_decisions
from clearpixel.consent.history import contact_states
from clearpixel.consent.links import contact_for, verify_link
from clearpixel.consent.notices import current_notice
from clearpixel.consent.pages import CsrfRejected
from clearpixel.context import Context
from clearpixel.domain.ledger import Decision, Method
from clearpixel.domain.tokens import TokenKind
from clearpixel.store.contacts import SUBSCRIBED, UNSUBSCRIBED, Contact, set_status
from clearpixel.store.notices import Notice, notices_by_id

CSRF_PURPOSE = "preferences"


@dataclass(frozen=True, slots=True)
class PurposeChoice:
    name: str
    bit: int
    granted: bool
    notice: Notice
    state: str  # never_asked, refused or granted (consent/history.py)


@dataclass(frozen=True, slots=True)
class PreferencePage:
    token: str
    contact: Contact
    locale: str
    choices: list[PurposeChoice]
    subscribed: bool
    nonce: str
    csrf: str

    @property
    def tracking(self) -> bool:
        """True while any purpose is granted (the 'stop tracking' action has work to do)."""
        return any(c.granted for c in self.choices)


def open_preferences(
    ctx: Context, token: str, *, locale_of: Callable[[Contact], str]
) -> PreferencePage:
    """What the page shows; changes nothing. Raises InvalidLink."""
    now = ctx.now()
    parsed = verify_link(ctx, token, TokenKind.PREFERENCES, now=now)
    with ctx.db.begin() as tx:
        contact = contact_for(tx, parsed.contact_id)
        locale = locale_of(contact)
        states = {s.name: str(s.state) for s in contact_states(tx, contact, ctx.purposes)}
        choices = [
            PurposeChoice(
                p.name,
                p.bit,
                bool((contact.privacy_flags or 0) & p.bit),
                current_notice(tx, ctx, p.name, locale),
                states[p.name],
            )
            for p in ctx.purposes
        ]
    nonce, mac = csrf.issue(ctx.settings.signing_keys(), token, CSRF_PURPOSE, now=now)
    return PreferencePage(token, contact, locale, choices, contact.status == SUBSCRIBED, nonce, mac)


@dataclass(frozen=True, slots=True)
class PreferenceChange:
    contact_id: int
    before: list[str]
    after: list[str]


def _checked(ctx: Context, token: str, nonce: str, csrf_token: str, *, now: datetime) -> int:
    """The contact a preference form's signed link names, once its CSRF pair checks out at
    `now`. Raises InvalidLink, CsrfRejected."""
    parsed = verify_link(ctx, token, TokenKind.PREFERENCES, now=now)
    keys = ctx.settings.signing_keys()
    if not csrf.check(keys, token, CSRF_PURPOSE, nonce, csrf_token, now=now):
        raise CsrfRejected("this form has expired or was not sent by the preference page")
    return parsed.contact_id


def withdraw_all(
    ctx: Context, token: str, *, nonce: str, csrf_token: str, evidence: Mapping[str, Any]
) -> PreferenceChange:
    """Stop tracking: revoke every purpose (flags become 0).

    Effects, one transaction: a `preference_page` ledger entry (written even if nothing was
    granted: it is the person's choice), flags, personal events forgotten (R5), cool-down (R8).
    Raises InvalidLink, CsrfRejected.
    """
    now = ctx.now()  # one reading of the clock for the whole decision
    contact_id = _checked(ctx, token, nonce, csrf_token, now=now)
    with ctx.db.begin() as tx:
        contact = contact_for(tx, contact_id)
        decision = Decision(
            contact_id=contact.id,
            list_id=contact.list_id,
            email=contact.email,
            granted=0,
            revoked=ctx.purposes.all_bits,
            method=Method.PREFERENCE_PAGE,
            at=now,
            evidence={**evidence, "action": "stop_tracking"},
        )
        record_decisions(tx, [decision], cooldown=ctx.cooldown)
    return PreferenceChange(contact.id, ctx.purposes.names_in(contact.privacy_flags), [])


def save_choices(
    ctx: Context,
    token: str,
    *,
    nonce: str,
    csrf_token: str,
    granted: Collection[str],
    notice_ids: Mapping[str, int],
    locale: str,
    evidence: Mapping[str, Any],
) -> PreferenceChange:
    """The person's explicit choice per purpose: ticked purposes granted (each with the notice
    shown beside its box), the others revoked. One `preference_page` entry per purpose whose
    state changes. Raises InvalidLink, CsrfRejected, FlagsError."""
    now = ctx.now()  # every entry of one choice carries the same time
    contact_id = _checked(ctx, token, nonce, csrf_token, now=now)
    wanted = ctx.purposes.mask(granted)
    with ctx.db.begin() as tx:
        contact = contact_for(tx, contact_id)
        given = notices_by_id(tx, list(notice_ids.values()))
        current = contact.privacy_flags or 0
        decisions: list[Decision] = []
        for purpose in ctx.purposes:
            yes = bool(wanted & purpose.bit)
            if yes == bool(current & purpose.bit) and contact.privacy_flags is not None:
                continue
            notice: Notice | None = None
            if yes:
                notice = given.get(notice_ids.get(purpose.name, -1))
                if notice is None or notice.purpose != purpose.name:
                    notice = current_notice(tx, ctx, purpose.name, locale)
            decisions.append(
                Decision(
                    contact_id=contact.id,
                    list_id=contact.list_id,
                    email=contact.email,
                    granted=purpose.bit if yes else 0,
                    revoked=0 if yes else purpose.bit,
                    method=Method.PREFERENCE_PAGE,
                    at=now,
                    notice_id=notice.id if notice else None,
                    notice_sha256=notice.sha256 if notice else None,
                    evidence={**evidence, "action": "save", "purpose": purpose.name},
                )
            )
        record_decisions(tx, decisions, cooldown=ctx.cooldown)
    return PreferenceChange(
        contact.id, ctx.purposes.names_in(contact.privacy_flags), ctx.purposes.names_in(wanted)
    )


def unsubscribe_target(ctx: Context, token: str) -> Contact:
    """The contact an unsubscribe link names (for the confirmation page). Raises InvalidLink."""
    parsed = verify_link(ctx, token, TokenKind.UNSUBSCRIBE, now=ctx.now())
    with ctx.db.connect() as conn:
        return contact_for(conn, parsed.contact_id)


def unsubscribe(ctx: Context, token: str) -> Contact:
    """RFC 8058 one-click unsubscribe: status 'unsubscribed', flags untouched (R16).
    The signed token is the authority, so no cookie or CSRF pair is needed. Raises
    InvalidLink."""
    now = ctx.now()
    parsed = verify_link(ctx, token, TokenKind.UNSUBSCRIBE, now=now)
    with ctx.db.begin() as tx:
        contact = contact_for(tx, parsed.contact_id)
        if contact.status != UNSUBSCRIBED:
            set_status(tx, contact.id, UNSUBSCRIBED, now=now)
    return contact
