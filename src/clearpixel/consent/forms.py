"""The signup form: one unchecked box per purpose, each beside its notice. What a submission
may do is `consent/signups.py`'s business (R18: only the owner of an address decides for it);
`record_signup` is the step that, once allowed, subscribes the contact and records every
purpose as granted (ticked) or refused (not ticked), so flags become 0, not NULL, for a person
who was asked and ticked nothing."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

from clearpixel.consent.decisions import record_decisions
from clearpixel.consent.notices import current_notice
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.flags import FlagsError
from clearpixel.domain.ledger import Decision, Method
from clearpixel.domain.urls import subscribe_path
from clearpixel.store import Tx
from clearpixel.store.contacts import SUBSCRIBED, get_contact, set_status, update_attributes
from clearpixel.store.lists import AudienceList, get_list
from clearpixel.store.notices import Notice, notices_by_id
from clearpixel.store.signups import contact_for_signup


class BadSignup(ClearpixelError, ValueError):
    """A signup that cannot be accepted; the message says why, never whether the address
    is already known."""


@dataclass(frozen=True, slots=True)
class FormPurpose:
    name: str
    notice: Notice


@dataclass(frozen=True, slots=True)
class SignupForm:
    """What the form shows: the list, one purpose per box with its notice, the policy link."""

    audience: AudienceList
    locale: str
    action_url: str
    privacy_policy_url: str
    organisation: str
    purposes: list[FormPurpose]


@dataclass(frozen=True, slots=True)
class SignupResult:
    contact_id: int
    granted: list[str]
    refused: list[str]


def signup_form(ctx: Context, list_name: str, locale: str) -> SignupForm:
    """The form for `list_name` in `locale` (raises UnknownList)."""
    with ctx.db.begin() as tx:
        audience = get_list(tx, list_name)
        purposes = [
            FormPurpose(name, current_notice(tx, ctx, name, locale))
            for name in ctx.purposes.names()
        ]
    return SignupForm(
        audience=audience,
        locale=locale,
        action_url=ctx.settings.base_url.rstrip("/") + subscribe_path(audience.name),
        privacy_policy_url=ctx.settings.privacy_policy_url,
        organisation=ctx.settings.organisation,
        purposes=purposes,
    )


def normalise_email(value: str) -> str:
    """A syntactically valid address, lower-cased; raises BadSignup."""
    value = (value or "").strip()
    if not value or len(value) > 320:
        raise BadSignup("enter a valid email address")
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadSignup("enter a valid email address") from exc
    return checked.normalized.lower()


def record_signup(
    tx: Tx,
    ctx: Context,
    audience: AudienceList,
    *,
    address: str,
    ticked: Collection[str],
    notice_ids: Mapping[str, int],
    locale: str,
    evidence: Mapping[str, Any],
    now: datetime,
) -> SignupResult:
    """Inside `tx`: create or update the contact of `address` (already normalised) in
    `audience`, subscribed, and record one `signup_form` decision per purpose: granted if
    ticked, refused otherwise, each naming the notice the form showed beside its box
    (`notice_ids`; the current one if absent). Only for a signup its owner confirmed, or a
    new address of a form behind the organisation's own login (`single` confirmation).

    Effects: contact row (created, or status back to subscribed and locale kept), ledger
    entries, flags; refusing open tracking starts the cool-down (R8).
    Raises FlagsError (unknown purpose).
    """
    for name in ticked:
        ctx.purposes.bit(name)
    given = notices_by_id(tx, list(notice_ids.values()))
    contact_id, created = contact_for_signup(tx, audience.id, address, {"locale": locale}, now=now)
    if not created:
        contact = get_contact(tx, contact_id)
        if contact.status != SUBSCRIBED:
            set_status(tx, contact_id, SUBSCRIBED, now=now)
        if not contact.locale:
            update_attributes(tx, contact_id, {**contact.attributes, "locale": locale}, now=now)
    decisions: list[Decision] = []
    for purpose in ctx.purposes:
        notice = given.get(notice_ids.get(purpose.name, -1))
        if notice is None or notice.purpose != purpose.name:
            notice = current_notice(tx, ctx, purpose.name, locale)
        yes = purpose.name in ticked
        decisions.append(
            Decision(
                contact_id=contact_id,
                list_id=audience.id,
                email=address,
                granted=purpose.bit if yes else 0,
                revoked=0 if yes else purpose.bit,
                method=Method.SIGNUP_FORM,
                at=now,
                notice_id=notice.id,
                notice_sha256=notice.sha256,
                evidence={**evidence, "purpose": purpose.name, "list": audience.name},
            )
        )
    record_decisions(tx, decisions, cooldown=ctx.cooldown)
    names = ctx.purposes.names()
    return SignupResult(
        contact_id=contact_id,
        granted=[n for n in names if n in ticked],
        refused=[n for n in names if n not in ticked],
    )


__all__ = ["BadSignup", "FlagsError", "SignupForm", "SignupResult", "record_signup", "signup_form"]
