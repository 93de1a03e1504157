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
from clearpixel.consent.notices import list_notices, missing_elements
from clearpixel.context import Context
from clearpixel.domain.policy import Strategy


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAIL = "not compliant"


@dataclass(frozen=True, slots=True)
class Finding:
    topic: str
    status: Status
    detail: str


def _strategy(ctx: Context) -> Finding:
    policy = ctx.policy
    if policy.strategy is Strategy.LEGACY:
        return Finding(
            "tracking strategy",
            Status.FAIL,
            "strategy 'legacy' puts a personal pixel in every marketing email without consent; "
            "set CLEARPIXEL_STRATEGY=consent (or anonymous_only)",
        )
    return Finding(
        "tracking strategy",
        Status.OK,
        f"'{policy.strategy}': marketing mail without consent is '{policy.nonconsent_mode}', "
        f"transactional '{policy.transactional_mode}', security '{policy.security_mode}'",
    )


def _keys(ctx: Context) -> Finding:
    try:
        count = len(ctx.settings.signing_keys())
    except ConfigError as exc:
        return Finding("signing keys", Status.FAIL, str(exc))
    return Finding("signing keys", Status.OK, f"{count} key(s); tokens signed with the first")


def _base_url(ctx: Context) -> Finding:
    url = urlsplit(ctx.settings.base_url)
    if url.scheme == "https":
        return Finding("public URL", Status.OK, ctx.settings.base_url)
    local = url.hostname in ("127.0.0.1", "localhost", "::1")
    return Finding(
        "public URL",
        Status.WARNING if local else Status.FAIL,
        f"{ctx.settings.base_url} is not https: consent and preference links would travel "
        "in clear text" + (" (fine for a local trial)" if local else ""),
    )


# Settings that name the organisation to recipients: a placeholder left in them puts a wrong
# name, address or policy link in every email and consent page.
PLACEHOLDERS = {
    "organisation": ("CLEARPIXEL_ORGANISATION", "the sender named in every footer and notice"),
    "privacy_policy_url": ("CLEARPIXEL_PRIVACY_POLICY_URL", "the privacy policy linked from forms"),
    "from_address": ("CLEARPIXEL_FROM_ADDRESS", "the From address of campaigns"),
    "unsubscribe_mailto": (
        "CLEARPIXEL_UNSUBSCRIBE_MAILTO",
        "the mailbox of List-Unsubscribe by email",
    ),
}


def _placeholders(ctx: Context) -> Finding:
    defaults = Settings.model_fields
    left = [
        f"{variable} ({meaning})"
        for field, (variable, meaning) in PLACEHOLDERS.items()
        if getattr(ctx.settings, field) == defaults[field].default
    ]
    if left:
        return Finding(
            "organisation settings",
            Status.WARNING,
            "still the example default, set: " + "; ".join(left),
        )
    return Finding("organisation settings", Status.OK, ctx.settings.organisation)


def _ledger(ctx: Context) -> Finding:
    found = gather(ctx.settings)
    report = verify_ledger(ctx, checkpoints=found)
    if report.fault:
        where = f"entry {report.fault.seq}: " if report.fault.seq else ""
        return Finding("consent ledger", Status.FAIL, f"{where}{report.fault.problem}")
    if not report.checkpoints:
        return Finding(
            "consent ledger",
            Status.WARNING,
            f"{report.entries} entries, chain intact, but no signed checkpoint anchors it "
            "outside the database: run `clearpixel ledger checkpoint` and keep a copy elsewhere",
        )
    latest = max((f.checkpoint for f in found if f.checkpoint), key=lambda c: c.seq)
    unanchored = report.entries - latest.seq
    age = ctx.now() - datetime.fromisoformat(latest.at)
    if unanchored and age > 2 * timedelta(minutes=ctx.settings.checkpoint_minutes):
        return Finding(
            "consent ledger",
            Status.WARNING,
            f"{report.entries} entries, chain intact, but the newest {unanchored} are not "
            f"anchored: the latest checkpoint is of {latest.at} (does `serve` run? "
            "`clearpixel ledger checkpoint` writes one now)",
        )
    return Finding(
        "consent ledger",
        Status.OK,
        f"{report.entries} entries, chain intact, agrees with {report.checkpoints} signed "
        "checkpoint(s)",
    )


def _flags(ctx: Context) -> Finding:
    report = check_flags(ctx, checkpoints=gather(ctx.settings))
    if report.checkpoint_problem:
        return Finding("flags = replay of the ledger", Status.FAIL, report.checkpoint_problem)
    if report.mismatch:
        m = report.mismatch
        return Finding(
            "flags = replay of the ledger",
            Status.FAIL,
            f"contact {m.contact_id} ({m.email}) has {m.stored}, the ledger says {m.folded}",
        )
    return Finding("flags = replay of the ledger", Status.OK, f"{report.contacts} contacts")


def _notices(ctx: Context) -> Finding:
    latest = {(n.purpose, n.locale): n for n in sorted(list_notices(ctx), key=lambda n: n.version)}
    for (purpose, locale), notice in sorted(latest.items()):
        missing = missing_elements(
            notice.text, locale=locale, purpose=purpose, organisation=ctx.settings.organisation
        )
        if missing:
            return Finding(
                "consent notices",
                Status.FAIL,
                f"{purpose} ({locale}) version {notice.version} lacks: {', '.join(missing)}",
            )
    return Finding(
        "consent notices",
        Status.OK,
        f"{len(latest)} current notice(s) name who, what, why and every device"
        if latest
        else "none stored yet: the shipped defaults are used on first use",
    )


def _retention(ctx: Context) -> list[Finding]:
    """One finding per retention window: its length, and FAIL when set beyond the documented
    maximum (README "Retention")."""
    return [
        Finding(
            f"retention: {w.name}",
            Status.FAIL if w.beyond_maximum else Status.OK,
            f"{w.words(w.kept)} ({w.setting}), more than the maximum of {w.words(w.maximum)}"
            if w.beyond_maximum
            else f"{w.words(w.kept)} (at most {w.words(w.maximum)})",
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
