"""Double opt-in (R18): a public signup can only start a confirmation sent to the address.

`start_signup` (the signup form, or an API key limited to signups) checks the submission,
keeps it as a pending signup and mails the address an untracked confirmation link; it never
touches the address's contact, flags or subscription. `open_confirmation` (GET of the link)
shows what would be recorded and changes nothing (R9); `confirm_signup` (its POST, with the
page's CSRF pair) records it, once, with the evidence of both steps. With
`CLEARPIXEL_SIGNUP_CONFIRMATION=single`, meant only for a form behind the organisation's own
login, a new address is recorded at once; an address already in the list still gets the
confirmation mail, so no form ever decides for someone else.

Limits keep the form from mailing someone again and again: at most
`signup_mails_per_address_per_day` confirmation mails per address, and at most
`signup_forms_per_network_per_hour` submissions from one network (the truncated IP the
evidence keeps). Unconfirmed signups expire after `signup_link_hours` and are purged.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from clearpixel.accounts import csrf
from clearpixel.consent.forms import (
    BadSignup,
    SignupResult,
    normalise_email,
    record_signup,
)
from clearpixel.consent.links import InvalidLink, verify_link
from clearpixel.consent.notices import current_notice
from clearpixel.consent.pages import CsrfRejected
from clearpixel.consent.system_mail import send_system_mail
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.tokens import Token, TokenKind
from clearpixel.domain.urls import signup_confirm_path
from clearpixel.i18n import gettext_for, purpose_label
from clearpixel.store import Tx
from clearpixel.store.lists import AudienceList, get_list, get_list_by_id
from clearpixel.store.notices import notices_by_id
from clearpixel.store.signups import (
    PendingSignup,
    claim_pending,
    contact_exists,
    count_recent,
    get_pending,
    insert_pending,
    lock_signups,
    purge_pending,
)

CSRF_PURPOSE = "signup"


class SignupLimited(ClearpixelError):
    """Too many signups from one network for now."""


@dataclass(frozen=True, slots=True)
class SignupStarted:
    """What a submission did, for the submitter's eyes: it never says whether the address
    was known. `recorded` holds the result when a new address was recorded at once (single)."""

    recorded: SignupResult | None = None


def start_signup(
    ctx: Context,
    list_name: str,
    *,
    email: str,
    ticked: Collection[str],
    notice_ids: Mapping[str, int],
    locale: str,
    evidence: Mapping[str, Any],
    network: str,
    channel: str = "form",
) -> SignupStarted:
    """Check a submission and start its confirmation (see the module docstring).

    `evidence` is the form step's (page without query string, truncated IP, ...); `network`
    the truncated IP the per-network limit counts. Effects: a pending_signups row and one
    confirmation mail to the address, unless the address had its share of mails today (then
    nothing, and the same answer); in single mode a new address is recorded at once.
    Raises BadSignup, UnknownList, FlagsError, SignupLimited."""
    address = normalise_email(email)
    ticked_mask = ctx.purposes.mask(ticked)
    now = ctx.now()
    settings = ctx.settings
    with ctx.db.begin() as tx:
        audience = get_list(tx, list_name)
        lock_signups(tx, audience.id)  # the limits below count what concurrent submissions add
        hour_ago = now - timedelta(hours=1)
        if network and count_recent(tx, network=network, since=hour_ago) >= (
            settings.signup_forms_per_network_per_hour
        ):
            raise SignupLimited("too many signups from this network; try again in an hour")
        form_step = {
            **evidence,
            "at": now.isoformat(),
            "channel": channel,
            "notices": _notices_shown(tx, ctx, notice_ids, locale),
        }
        if settings.signup_confirmation == "single" and not contact_exists(
            tx, audience.id, address
        ):
            return SignupStarted(
                record_signup(
                    tx,
                    ctx,
                    audience,
                    address=address,
                    ticked=ticked,
                    notice_ids=notice_ids,
                    locale=locale,
                    evidence={"form": form_step, "confirmation": "single"},
                    now=now,
                )
            )
        if count_recent(tx, email=address, since=now - timedelta(days=1)) >= (
            settings.signup_mails_per_address_per_day
        ):
            return SignupStarted()
        expires = now + timedelta(hours=settings.signup_link_hours)
        signup_id = insert_pending(
            tx,
            list_id=audience.id,
            email=address,
            ticked=ticked_mask,
            notice_ids=dict(notice_ids),
            locale=locale,
            evidence=form_step,
            network=network,
            now=now,
            expires_at=expires,
        )
    token = ctx.signer.sign(
        Token(
            TokenKind.SIGNUP, contact_id=0, signup_id=signup_id, expires_at=int(expires.timestamp())
        )
    )
    _mail_confirmation(ctx, audience, address, token, locale, now=now)
    return SignupStarted()


def _notices_shown(
    tx: Tx, ctx: Context, notice_ids: Mapping[str, int], locale: str
) -> dict[str, dict[str, Any]]:
    """Per purpose, the notice version the form showed (its id, version and SHA-256)."""
    given = notices_by_id(tx, list(notice_ids.values()))
    shown: dict[str, dict[str, Any]] = {}
    for purpose in ctx.purposes:
        notice = given.get(notice_ids.get(purpose.name, -1))
        if notice is None or notice.purpose != purpose.name:
            notice = current_notice(tx, ctx, purpose.name, locale)
        shown[purpose.name] = {"id": notice.id, "version": notice.version, "sha256": notice.sha256}
    return shown


def _mail_confirmation(
    ctx: Context, audience: AudienceList, address: str, token: str, locale: str, *, now: datetime
) -> None:
    _ = gettext_for(locale)
    url = ctx.settings.base_url.rstrip("/") + signup_confirm_path(token)
    values = {
        "list": audience.name,
        "organisation": ctx.settings.organisation,
        "hours": ctx.settings.signup_link_hours,
    }
    lines = [
        _("Someone, we hope you, asked to subscribe this address to %(list)s of %(organisation)s.")
        % values,
        _("Nothing is recorded until you confirm. To confirm, open this link:"),
        url,
        _("The link works for %(hours)s hours. If you did not ask for this, ignore this email.")
        % values,
    ]
    body = "".join(
        f'<p><a href="{html.escape(line)}">{html.escape(line)}</a></p>'
        if line == url
        else f"<p>{html.escape(line)}</p>"
        for line in lines
    )
    send_system_mail(
        ctx,
        to=address,
        subject=_("Please confirm your subscription to %(list)s") % values,
        text="\n\n".join(lines) + "\n",
        html=f'<!doctype html><html lang="{locale}"><body>{body}</body></html>',
        now=now,
    )


@dataclass(frozen=True, slots=True)
class ConfirmationPage:
    token: str
    audience: AudienceList
    email: str
    locale: str
    granted: list[str]
    refused: list[str]
    confirmed: bool
    nonce: str
    csrf: str


def _pending(ctx: Context, token: str, now: datetime) -> PendingSignup:
    """The pending signup a link names; InvalidLink when forged, expired or purged."""
    parsed = verify_link(ctx, token, TokenKind.SIGNUP, now=now)
    with ctx.db.connect() as conn:
        found = get_pending(conn, parsed.signup_id)
    if found is None or int(found.expires_at.timestamp()) != parsed.expires_at:
        raise InvalidLink("this link is not valid", reason="unknown_signup")
    if found.expires_at <= now:
        raise InvalidLink("this link has expired", expired=True, reason="expired")
    return found


def open_confirmation(ctx: Context, token: str) -> ConfirmationPage:
    """What confirming would record; changes nothing (R9). Raises InvalidLink."""
    now = ctx.now()
    found = _pending(ctx, token, now)
    with ctx.db.connect() as conn:
        audience = get_list_by_id(conn, found.list_id)
    names = ctx.purposes.names()
    granted = ctx.purposes.names_in(found.ticked)
    nonce, mac = csrf.issue(ctx.settings.signing_keys(), token, CSRF_PURPOSE, now=now)
    return ConfirmationPage(
        token,
        audience,
        found.email,
        found.locale,
        granted,
        [n for n in names if n not in granted],
        found.confirmed_at is not None,
        nonce,
        mac,
    )


def confirm_signup(ctx: Context, token: str, *, nonce: str, csrf_token: str) -> SignupResult | None:
    """The owner's confirmation (POST with the page's CSRF pair): subscribe the address and
    record every purpose as granted or refused, with the form step's evidence and the
    confirmation's time. Once only: a replay records nothing and returns None.

    Effects, one transaction: the pending signup claimed; contact created or resubscribed;
    one `signup_form` ledger entry per purpose; refusing open tracking starts the cool-down.
    Raises InvalidLink, CsrfRejected."""
    now = ctx.now()
    found = _pending(ctx, token, now)
    if not csrf.check(ctx.settings.signing_keys(), token, CSRF_PURPOSE, nonce, csrf_token, now=now):
        raise CsrfRejected("this form has expired or was not sent by the confirmation page")
    with ctx.db.begin() as tx:
        if not claim_pending(tx, found.id, now=now):
            return None
        audience = get_list_by_id(tx, found.list_id)
        return record_signup(
            tx,
            ctx,
            audience,
            address=found.email,
            ticked=ctx.purposes.names_in(found.ticked),
            notice_ids=found.notice_ids,
            locale=found.locale,
            evidence={"form": found.evidence, "confirmation": {"at": now.isoformat()}},
            now=now,
        )


def purge_signups(ctx: Context, now: datetime) -> int:
    """Delete the signups whose link has expired (confirmed or not). Returns how many."""
    with ctx.db.begin() as tx:
        return purge_pending(tx, before=now)


__all__ = [
    "BadSignup",
    "ConfirmationPage",
    "SignupLimited",
    "SignupStarted",
    "confirm_signup",
    "open_confirmation",
    "purge_signups",
    "purpose_label",
    "start_signup",
]
