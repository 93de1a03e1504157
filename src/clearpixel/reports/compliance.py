"""`clearpixel check`: is this installation doing what the CNIL deliberation asks?

Each finding names one obligation, whether it holds, and what to do when it does not. A
`legacy` strategy (personal pixels in marketing mail without consent) is reported as not
compliant (DESIGN §3); so are a broken ledger chain, flags that differ from the ledger's replay,
and a stored notice that lacks a required element.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from clearpixel.config import ConfigError, Settings
from clearpixel.consent.checkpoints import gather
from clearpixel.consent.integrity import check_flags, verify_ledger
from clearpixel.consent.notices import list_notices, missing_messages
from clearpixel.context import Context
from clearpixel.domain.errors import N_, Message
from clearpixel.domain.policy import Strategy


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAIL = "not compliant"


@dataclass(frozen=True, slots=True)
class Finding:
    """One obligation (`topic`), whether it holds, and what to do when it does not
    (`detail`): catalogue texts, English when printed, in the reader's language in the
    admin."""

    topic: Message
    status: Status
    detail: Message


TOPIC_STRATEGY = Message(N_("tracking strategy"))
TOPIC_KEYS = Message(N_("signing keys"))
TOPIC_URL = Message(N_("public URL"))
TOPIC_SETTINGS = Message(N_("organisation settings"))
TOPIC_LEDGER = Message(N_("consent ledger"))
TOPIC_FLAGS = Message(N_("flags = replay of the ledger"))
TOPIC_NOTICES = Message(N_("consent notices"))


def _strategy(ctx: Context) -> Finding:
    policy = ctx.policy
    if policy.strategy is Strategy.LEGACY:
        return Finding(
            TOPIC_STRATEGY,
            Status.FAIL,
            Message(
                N_(
                    "strategy 'legacy' puts a personal pixel in every marketing email without "
                    "consent; set CLEARPIXEL_STRATEGY=consent (or anonymous_only)"
                )
            ),
        )
    return Finding(
        TOPIC_STRATEGY,
        Status.OK,
        Message(
            N_(
                "'%(strategy)s': marketing mail without consent is '%(nonconsent)s', "
                "transactional '%(transactional)s', security '%(security)s'"
            ),
            strategy=str(policy.strategy),
            nonconsent=str(policy.nonconsent_mode),
            transactional=str(policy.transactional_mode),
            security=str(policy.security_mode),
        ),
    )


def _keys(ctx: Context) -> Finding:
    try:
        count = len(ctx.settings.signing_keys())
    except ConfigError as exc:
        return Finding(TOPIC_KEYS, Status.FAIL, exc.as_message())
    return Finding(
        TOPIC_KEYS,
        Status.OK,
        Message(N_("%(n)s key(s); tokens signed with the first"), n=count),
    )


def _base_url(ctx: Context) -> Finding:
    url = urlsplit(ctx.settings.base_url)
    if url.scheme == "https":
        return Finding(TOPIC_URL, Status.OK, Message(ctx.settings.base_url))
    local = url.hostname in ("127.0.0.1", "localhost", "::1")
    return Finding(
        TOPIC_URL,
        Status.WARNING if local else Status.FAIL,
        Message(
            N_(
                "%(url)s is not https: consent and preference links would travel in clear "
                "text (fine for a local trial)"
            )
            if local
            else N_(
                "%(url)s is not https: consent and preference links would travel in clear text"
            ),
            url=ctx.settings.base_url,
        ),
    )


# Settings that name the organisation to recipients: a placeholder left in them puts a wrong
# name, address or policy link in every email and consent page.
PLACEHOLDERS = {
    "organisation": ("CLEARPIXEL_ORGANISATION", N_("the sender named in every footer and notice")),
    "privacy_policy_url": (
        "CLEARPIXEL_PRIVACY_POLICY_URL",
        N_("the privacy policy linked from forms"),
    ),
    "from_address": ("CLEARPIXEL_FROM_ADDRESS", N_("the From address of campaigns")),
    "unsubscribe_mailto": (
        "CLEARPIXEL_UNSUBSCRIBE_MAILTO",
        N_("the mailbox of List-Unsubscribe by email"),
    ),
}


def _placeholders(ctx: Context) -> Finding:
    defaults = Settings.model_fields
    left = [
        Message(N_("%(variable)s (%(meaning)s)"), variable=variable, meaning=Message(meaning))
        for field, (variable, meaning) in PLACEHOLDERS.items()
        if getattr(ctx.settings, field) == defaults[field].default
    ]
    if left:
        return Finding(
            TOPIC_SETTINGS,
            Status.WARNING,
            Message(
                N_("still the example default, set: %(left)s"),
                left=Message.joined(left, N_("%(before)s; %(after)s")),
            ),
        )
    return Finding(TOPIC_SETTINGS, Status.OK, Message(ctx.settings.organisation))


def _ledger(ctx: Context) -> Finding:
    found = gather(ctx.settings)
    report = verify_ledger(ctx, checkpoints=found)
    if report.fault:
        where = f"entry {report.fault.seq}: " if report.fault.seq else ""
        return Finding(TOPIC_LEDGER, Status.FAIL, Message(f"{where}{report.fault.problem}"))
    if not report.checkpoints:
        return Finding(
            TOPIC_LEDGER,
            Status.WARNING,
            Message(
                N_(
                    "%(n)s entries, chain intact, but no signed checkpoint anchors it outside "
                    "the database: run `clearpixel ledger checkpoint` and keep a copy elsewhere"
                ),
                n=report.entries,
            ),
        )
    latest = max((f.checkpoint for f in found if f.checkpoint), key=lambda c: c.seq)
    unanchored = report.entries - latest.seq
    age = ctx.now() - datetime.fromisoformat(latest.at)
    if unanchored and age > 2 * timedelta(minutes=ctx.settings.checkpoint_minutes):
        return Finding(
            TOPIC_LEDGER,
            Status.WARNING,
            Message(
                N_(
                    "%(n)s entries, chain intact, but the newest %(unanchored)s are not "
                    "anchored: the latest checkpoint is of %(at)s (does `serve` run? "
                    "`clearpixel ledger checkpoint` writes one now)"
                ),
                n=report.entries,
                unanchored=unanchored,
                at=latest.at,
            ),
        )
    return Finding(
        TOPIC_LEDGER,
        Status.OK,
        Message(
            N_("%(n)s entries, chain intact, agrees with %(checkpoints)s signed checkpoint(s)"),
            n=report.entries,
            checkpoints=report.checkpoints,
        ),
    )


def _flags(ctx: Context) -> Finding:
    report = check_flags(ctx, checkpoints=gather(ctx.settings))
    if report.checkpoint_problem:
        return Finding(TOPIC_FLAGS, Status.FAIL, Message(report.checkpoint_problem))
    if report.mismatch:
        m = report.mismatch
        return Finding(
            TOPIC_FLAGS,
            Status.FAIL,
            Message(
                N_("contact %(id)s (%(email)s) has %(stored)s, the ledger says %(folded)s"),
                id=m.contact_id,
                email=m.email,
                stored=m.stored,
                folded=m.folded,
            ),
        )
    return Finding(TOPIC_FLAGS, Status.OK, Message(N_("%(n)s contacts"), n=report.contacts))


def _notices(ctx: Context) -> Finding:
    latest = {(n.purpose, n.locale): n for n in sorted(list_notices(ctx), key=lambda n: n.version)}
    for (purpose, locale), notice in sorted(latest.items()):
        missing = missing_messages(
            notice.text, locale=locale, purpose=purpose, organisation=ctx.settings.organisation
        )
        if missing:
            return Finding(
                TOPIC_NOTICES,
                Status.FAIL,
                Message(
                    N_("%(purpose)s (%(locale)s) version %(version)s lacks: %(missing)s"),
                    purpose=purpose,
                    locale=locale,
                    version=notice.version,
                    missing=Message.joined(missing, N_("%(before)s; %(after)s")),
                ),
            )
    return Finding(
        TOPIC_NOTICES,
        Status.OK,
        Message(N_("%(n)s current notice(s) name who, what, why and every device"), n=len(latest))
        if latest
        else Message(N_("none stored yet: the shipped defaults are used on first use")),
    )


def _retention(ctx: Context) -> list[Finding]:
    """One finding per retention window: its length, and FAIL when set beyond the documented
    maximum (README "Retention")."""
    return [
        Finding(
            Message(N_("retention: %(name)s"), name=Message(w.name)),
            Status.FAIL if w.beyond_maximum else Status.OK,
            Message(
                N_("%(kept)s (%(setting)s), more than the maximum of %(maximum)s"),
                kept=w.words(w.kept),
                setting=w.setting,
                maximum=w.words(w.maximum),
            )
            if w.beyond_maximum
            else Message(
                N_("%(kept)s (at most %(maximum)s)"),
                kept=w.words(w.kept),
                maximum=w.words(w.maximum),
            ),
        )
        for w in ctx.settings.retention
    ]


def check_installation(ctx: Context) -> list[Finding]:
    """Every finding, in a stable order. Reads only; changes nothing."""
    return [
        _strategy(ctx),
        _keys(ctx),
        _base_url(ctx),
        _placeholders(ctx),
        _ledger(ctx),
        _flags(ctx),
        _notices(ctx),
        *_retention(ctx),
    ]


def compliant(findings: list[Finding]) -> bool:
    return all(f.status is not Status.FAIL for f in findings)
