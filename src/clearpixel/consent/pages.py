"""The consent page and the expiry of unanswered consent requests.

`GET /consent/{token}` calls `open_consent_page`: it verifies the signed link and returns what
to show; it never changes consent (R9) and does not count as a person's view, since a link
scanner fetches it too. The page's script reports the view (`note_view`, with the page's CSRF
pair, from a requester the hit classifier does not call a machine): only then has a person
seen the request. `POST` calls
`answer_consent_page`, which needs the page's CSRF pair and claims the request's one outcome
in the same transaction as the ledger entry, so a replayed link shows the recorded choice
instead of deciding twice. `expire_pending` turns a page a person viewed without answering for
`consent_page_timeout_minutes` into 'no decision', and a consent link that expired unanswered
(unopened, or fetched only by a machine) into an unanswered request; both are recorded with
method `consent_page_no_action`, which starts the cool-down (R8) and is never counted as the
person's own refusal (R19).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from clearpixel.accounts import csrf
from clearpixel.consent.decisions import record_decisions
from clearpixel.consent.history import contact_states
from clearpixel.consent.links import InvalidLink, contact_for, verify_link
from clearpixel.consent.notices import current_notice
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.events import Verdict
from clearpixel.domain.flags import OPEN_TRACKING, OPEN_TRACKING_BIT, has_open_tracking
from clearpixel.domain.ledger import Decision, Method
from clearpixel.domain.tokens import TokenKind
from clearpixel.i18n import choose_locale
from clearpixel.ingest.classify import Classifier, load_rules
from clearpixel.store import Tx
from clearpixel.store.consent_requests import (
    ConsentResponse,
    claim_outcome,
    get_response,
    record_view,
    request_of,
    requests_expired_unused,
    views_left_open,
)
from clearpixel.store.contacts import Contact, lock_contacts
from clearpixel.store.notices import Notice, UnknownNotice, get_notice

CSRF_PURPOSE = "consent"


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    NO_ACTION = "no_action"
    SUPERSEDED = "superseded"  # the contact consented another way before the request expired


class CsrfRejected(ClearpixelError, PermissionError):
    """A POST without the CSRF pair of a page we rendered for this link."""


@dataclass(frozen=True, slots=True)
class ConsentPage:
    token: str
    contact: Contact
    campaign_id: int
    notice: Notice
    outcome: str | None
    nonce: str
    csrf: str
    state: str = "never_asked"  # open tracking now: never_asked, refused or granted

    @property
    def can_answer(self) -> bool:
        """Open until a person answered; a recorded 'no decision' may still be answered."""
        return self.outcome in (None, Outcome.NO_ACTION)


@dataclass(frozen=True, slots=True)
class ConsentAnswer:
    contact: Contact
    outcome: str
    recorded: bool  # False: the link was already answered, nothing was recorded now


def open_consent_page(
    ctx: Context, token: str, *, locale_of: Callable[[Contact], str]
) -> ConsentPage:
    """Verify the consent link, note the first view, return the page to show.
    `locale_of(contact) -> str` picks the page's language. Raises InvalidLink."""
    now = ctx.now()
    parsed = verify_link(ctx, token, TokenKind.CONSENT, now=now)
    with ctx.db.begin() as tx:
        contact = contact_for(tx, parsed.contact_id)
        response = request_of(tx, parsed.campaign_id, contact.id)
        notice = current_notice(tx, ctx, OPEN_TRACKING, locale_of(contact))
        states = contact_states(tx, contact, ctx.purposes)
    # the pair also binds the notice shown, so the POST cannot name another version
    bound = f"{CSRF_PURPOSE}:{notice.id}"
    nonce, mac = csrf.issue(ctx.settings.signing_keys(), token, bound, now=now)
    state = next(str(s.state) for s in states if s.name == OPEN_TRACKING)
    return ConsentPage(
        token, contact, parsed.campaign_id, notice, response.outcome, nonce, mac, state
    )


@lru_cache(maxsize=8)
def _classifier(data_dir: Path) -> Classifier:
    return Classifier(load_rules(data_dir))


def note_view(
    ctx: Context,
    token: str,
    *,
    nonce: str,
    csrf_token: str,
    notice_id: int | None,
    ip: str,
    user_agent: str,
) -> bool:
    """The page's script reports that a browser showed the request to someone: note the first
    such view (the timeout of 'no decision' counts from it), unless the hit classifier calls
    the requester a machine. Changes no consent. Returns whether a view was noted.
    Raises InvalidLink, CsrfRejected."""
    now = ctx.now()
    parsed = verify_link(ctx, token, TokenKind.CONSENT, now=now)
    bound = f"{CSRF_PURPOSE}:{notice_id}"
    if not csrf.check(ctx.settings.signing_keys(), token, bound, nonce, csrf_token, now=now):
        raise CsrfRejected("not sent by the consent page")
    verdict = _classifier(ctx.settings.data_dir).classify(ip=ip, user_agent=user_agent)
    if verdict.verdict is Verdict.MACHINE:
        return False
    with ctx.db.begin() as tx:
        contact = contact_for(tx, parsed.contact_id)
        record_view(tx, parsed.campaign_id, contact.id, now=now)
    return True


def answer_consent_page(
    ctx: Context,
    token: str,
    *,
    accept: bool,
    nonce: str,
    csrf_token: str,
    notice_id: int | None,
    evidence: Mapping[str, Any],
) -> ConsentAnswer:
    """Record the Accept or Refuse of a consent page, once per link.

    Effects, one transaction: the request's outcome claimed; one `consent_page` ledger entry
    granting or revoking open tracking with the notice shown; on refusal, cool-down (R8) and
    personal events forgotten if consent existed (R5). A replay records nothing.
    Raises InvalidLink, CsrfRejected.
    """
    now = ctx.now()
    parsed = verify_link(ctx, token, TokenKind.CONSENT, now=now)
    bound = f"{CSRF_PURPOSE}:{notice_id}"
    if not csrf.check(ctx.settings.signing_keys(), token, bound, nonce, csrf_token, now=now):
        raise CsrfRejected("this form has expired or was not sent by the consent page")
    outcome = Outcome.ACCEPTED if accept else Outcome.REFUSED
    with ctx.db.begin() as tx:
        contact = contact_for(tx, parsed.contact_id)
        record_view(tx, parsed.campaign_id, contact.id, now=now)  # whoever answers saw it
        # A late answer to a page left open: the person's own choice replaces 'no decision'.
        claimed = claim_outcome(
            tx, parsed.campaign_id, contact.id, outcome, now=now, replacing=(Outcome.NO_ACTION,)
        )
        if not claimed:
            done = get_response(tx, parsed.campaign_id, contact.id)
            return ConsentAnswer(contact, done.outcome if done and done.outcome else "", False)
        notice = _shown_notice(tx, ctx, notice_id, contact)
        decision = Decision(
            contact_id=contact.id,
            list_id=contact.list_id,
            email=contact.email,
            granted=OPEN_TRACKING_BIT if accept else 0,
            revoked=0 if accept else OPEN_TRACKING_BIT,
            method=Method.CONSENT_PAGE,
            at=now,
            notice_id=notice.id,
            notice_sha256=notice.sha256,
            evidence={**evidence, "campaign_id": parsed.campaign_id, "choice": str(outcome)},
        )
        record_decisions(tx, [decision], cooldown=ctx.cooldown)
    return ConsentAnswer(contact, outcome, True)


def _shown_notice(tx: Tx, ctx: Context, notice_id: int | None, contact: Contact) -> Notice:
    if notice_id is not None:
        try:
            notice = get_notice(tx, notice_id)
        except UnknownNotice:
            notice = None
        if notice is not None and notice.purpose == OPEN_TRACKING:
            return notice
    return current_notice(tx, ctx, OPEN_TRACKING, choose_locale(contact.locale))


def recorded_response(ctx: Context, campaign_id: int, contact_id: int) -> ConsentResponse | None:
    with ctx.db.connect() as conn:
        return get_response(conn, campaign_id, contact_id)


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    pages_left_open: int = 0
    links_expired: int = 0
    refusals: int = 0
    superseded: int = 0


def expire_pending(ctx: Context, now: datetime, *, batch: int = 1000) -> ExpiryReport:
    """Record 'no decision' (a refusal, method `consent_page_no_action`) for every consent
    page viewed at least `consent_page_timeout_minutes` ago without an answer, and every
    consent-request email whose link expired (`consent_link_days`) without one.

    A contact who meanwhile consented another way keeps that consent (outcome 'superseded').
    Effects, per batch in one transaction: outcomes claimed, ledger entries, flags NULL -> 0,
    cool-down (R8). Safe to run again and from several processes. Run it from
    `clearpixel consent expire` (cron) or let `clearpixel serve` run it every few minutes.
    """
    timeout = timedelta(minutes=ctx.settings.consent_page_timeout_minutes)
    link_life = timedelta(days=ctx.settings.consent_link_days)
    pages = links = refusals = superseded = 0
    for source in ("pages", "links"):
        while True:
            with ctx.db.begin() as tx:
                if source == "pages":
                    pairs = views_left_open(tx, viewed_before=now - timeout, limit=batch)
                else:
                    pairs = requests_expired_unused(tx, sent_before=now - link_life, limit=batch)
                if not pairs:
                    break
                found = lock_contacts(tx, sorted({cid for _c, cid in pairs}))
                decisions: list[Decision] = []
                for campaign_id, contact_id in pairs:
                    contact = found.get(contact_id)
                    keep = contact is None or has_open_tracking(contact.privacy_flags)
                    outcome = Outcome.SUPERSEDED if keep else Outcome.NO_ACTION
                    if not claim_outcome(tx, campaign_id, contact_id, outcome, now=now):
                        continue
                    if keep or contact is None:
                        superseded += 1
                        continue
                    reason = (
                        "page viewed by a person, no answer"
                        if source == "pages"
                        else "link expired unanswered (not seen by a person)"
                    )
                    decisions.append(
                        Decision(
                            contact_id=contact.id,
                            list_id=contact.list_id,
                            email=contact.email,
                            granted=0,
                            revoked=OPEN_TRACKING_BIT,
                            method=Method.CONSENT_PAGE_NO_ACTION,
                            at=now,
                            evidence={"campaign_id": campaign_id, "reason": reason},
                        )
                    )
                record_decisions(tx, decisions, cooldown=ctx.cooldown)
                refusals += len(decisions)
                if source == "pages":
                    pages += len(pairs)
                else:
                    links += len(pairs)
    return ExpiryReport(pages, links, refusals, superseded)


__all__ = [
    "ConsentAnswer",
    "ConsentPage",
    "CsrfRejected",
    "ExpiryReport",
    "InvalidLink",
    "Outcome",
    "answer_consent_page",
    "expire_pending",
    "open_consent_page",
]
