"""What each admin page shows, gathered from the services (no SQL, no HTTP here): plain
values and SVG charts handed to the templates by `web.admin`, their titles and labels in the
page's language (`locale`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from clearpixel.audience import contacts as contact_service
from clearpixel.audience import lists as list_service
from clearpixel.consent.decisions import record_admin_choice
from clearpixel.consent.history import consent_view
from clearpixel.consent.notices import list_notices
from clearpixel.consent.proof import proof_for, proof_json, render_proof_html
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.policy import MessageKind, Strategy, TrackingMode, decide
from clearpixel.i18n import N_, format_planned, gettext_for, translations
from clearpixel.reports.campaign import Bucket, campaign_report
from clearpixel.reports.consent import ConsentDashboard, ListConsent, consent_dashboard
from clearpixel.sending import campaigns as sending
from clearpixel.sending import lease
from clearpixel.web import admin_charts as charts

MODE_COLORS = {
    "personal": "#2563eb",
    "deliverability": "#0891b2",
    "anonymous": "#9333ea",
    "none": "#9ca3af",
}


def coverage_chart(item: ListConsent, purposes: Sequence[str], locale: str = "en") -> Any:
    """Share of the list's contacts holding each purpose, per day (percent)."""
    t = gettext_for(locale)
    labels = [p.day.isoformat() for p in item.history]
    series = [
        charts.Series(
            name,
            charts.PALETTE[i % len(charts.PALETTE)],
            [100 * p.granted.get(name, 0) / p.contacts if p.contacts else 0 for p in item.history],
        )
        for i, name in enumerate(purposes)
    ]
    series.append(
        charts.Series(
            t("never asked"),
            charts.NEVER,
            [100 * p.never_asked / p.contacts if p.contacts else 0 for p in item.history],
        )
    )
    return charts.lines(
        t(N_("Consent coverage over time, list %(name)s (%% of contacts)"))
        % {"name": item.list_name},
        labels,
        series,
        top=100,
    )


def purpose_bars(item: ListConsent, locale: str = "en") -> list[tuple[str, Any]]:
    t = gettext_for(locale)
    return [
        (
            p.purpose,
            charts.split_bar(
                t(N_("%(purpose)s: never asked / refused / granted")) % {"purpose": p.purpose},
                [
                    (t(N_("never asked (NULL)")), p.never_asked, charts.NEVER),
                    (t(N_("refused (0)")), p.refused, charts.REFUSED),
                    (t("granted"), p.granted, charts.GRANTED),
                ],
            ),
        )
        for p in item.purposes
    ]


def home(ctx: Context, locale: str = "en", *, archived: bool = False) -> dict[str, Any]:
    """The campaigns (not archived, or only the archived ones) and the consent coverage."""
    campaigns = sending.all_campaigns(ctx, archived=archived)
    rows = [(c, sum(sending.sent_by_mode(ctx, c.id).values())) for c in campaigns]
    board = consent_dashboard(ctx)
    return {
        "title": gettext_for(locale)(N_("Overview")),
        "archived": archived,
        "zone": ctx.settings.zone,
        "shown": functools.partial(format_planned, locale=locale),
        "campaigns": rows,
        "lists": board.lists,
        "coverage": [
            (x, coverage_chart(x, board.purposes, locale)) for x in board.lists if x.contacts
        ],
    }


def campaign(ctx: Context, campaign_id: int, locale: str = "en") -> dict[str, Any]:
    found = sending.get_campaign(ctx, campaign_id)
    by_mode = sending.sent_by_mode(ctx, found.id)
    recipients = sending.send_counts(ctx).get(found.id, {})
    total = sum(recipients.values())
    values: dict[str, Any] = {
        "progress_total": total,
        "progress_done": total - recipients.get("pending", 0),
        "title": found.name,
        "campaign": found,
        "stalled": lease.stalled(found, ctx.now()),
        "zone": ctx.settings.zone,
        "shown": functools.partial(format_planned, locale=locale),
        "by_mode": by_mode,
        "mode_chart": charts.split_bar(
            gettext_for(locale)(N_("Emails sent by tracking mode")),
            [(mode, n, MODE_COLORS.get(mode, "#4b5563")) for mode, n in sorted(by_mode.items())],
        ),
    }
    values.update(campaign_report_view(ctx, found.id, locale))
    board = consent_dashboard(ctx)
    for item in board.lists:
        if item.list_id == found.list_id and item.contacts:
            values["coverage_chart"] = coverage_chart(item, board.purposes, locale)
    return values


def campaign_report_view(ctx: Context, campaign_id: int, locale: str = "en") -> dict[str, Any]:
    """The campaign report (from the counters ingest keeps) and its charts: opens over time
    split human / machine / unknown (hourly for the first three days, then daily), clicks."""
    report = campaign_report(ctx, str(campaign_id))
    t = gettext_for(locale)
    hourly = report.hourly
    if hourly:
        first = hourly[0].start
        hourly = [b for b in hourly if (b.start - first).total_seconds() < 72 * 3600]
    return {
        "report": report,
        "opens_hourly": _opens_chart(
            t(N_("Opens per hour, first three days (UTC)")), hourly, "%d %Hh", locale
        ),
        "opens_daily": _opens_chart(t(N_("Opens per day (UTC)")), report.daily, "%Y-%m-%d", locale),
        "clicks_chart": charts.stacked_columns(
            t(N_("Clicks per hour, first three days (UTC)")),
            [b.start.strftime("%d %Hh") for b in hourly],
            [charts.Series(t(N_("clicks")), "#16a34a", [b.clicks for b in hourly])],
        ),
    }


def _opens_chart(title: str, buckets: Sequence[Bucket], fmt: str, locale: str) -> Any:
    t = gettext_for(locale)
    return charts.stacked_columns(
        title,
        [b.start.strftime(fmt) for b in buckets],
        [
            charts.Series(t(N_("human")), charts.HUMAN, [b.opens_human for b in buckets]),
            charts.Series(t(N_("machine")), charts.MACHINE, [b.opens_machine for b in buckets]),
            charts.Series(t(N_("unknown")), charts.UNKNOWN, [b.opens_unknown for b in buckets]),
        ],
    )


def contact(ctx: Context, contact_id: int) -> dict[str, Any]:
    found = contact_service.get_contact(ctx, contact_id)
    target = contact_service.get_list(ctx, found.list_id)
    view = consent_view(ctx.db, ctx.purposes, list_name=target.name, email=found.email)
    return {
        "title": found.email,
        "contact": found,
        "target": target,
        "view": view,
        "purposes": ctx.purposes.names(),
    }


def proof(ctx: Context, contact_id: int, fmt: str) -> tuple[str, str, str]:
    """(body, media type, file name) of the contact's proof of consent."""
    found = contact_service.get_contact(ctx, contact_id)
    target = contact_service.get_list(ctx, found.list_id)
    data = proof_for(ctx, found.email, target.name)
    stem = f"consent-proof-{contact_id}"
    if fmt == "json":
        return proof_json(data), "application/json", f"{stem}.json"
    if fmt == "html":
        locale = found.locale if found.locale in ("fr", "en") else "en"
        return render_proof_html(data, locale=locale), "text/html; charset=utf-8", f"{stem}.html"
    raise ClearpixelError("format must be html or json")


def record_admin_decision(
    ctx: Context,
    contact_id: int,
    *,
    grant: Sequence[str],
    revoke: Sequence[str],
    evidence: str,
    actor: str,
) -> None:
    """Record, with method `admin`, a choice the contact made elsewhere (letter, call)."""
    record_admin_choice(
        ctx.db,
        ctx.purposes,
        contact_id,
        grant=grant,
        revoke=revoke,
        evidence=evidence,
        actor=actor,
        now=ctx.now(),
        cooldown=ctx.cooldown,
    )


def consent(ctx: Context, locale: str = "en") -> dict[str, Any]:
    t = gettext_for(locale)
    board: ConsentDashboard = consent_dashboard(ctx)
    withdrawals = charts.stacked_columns(
        t(N_("Withdrawals of open-tracking consent per day")),
        [w.day.isoformat() for w in board.withdrawals],
        [
            charts.Series(
                method,
                charts.PALETTE[i % len(charts.PALETTE)],
                [w.by_method.get(method, 0) for w in board.withdrawals],
            )
            for i, method in enumerate(sorted({m for w in board.withdrawals for m in w.by_method}))
        ],
    )
    requests = [
        (
            r,
            charts.split_bar(
                t(N_("Consent request %(name)s: outcomes")) % {"name": r.name},
                [
                    (t(N_("accepted")), r.accepted, charts.GRANTED),
                    (t("refused"), r.refused, charts.REFUSED),
                    (t(N_("no decision")), r.no_decision, "#f59e0b"),
                    (t(N_("no answer yet")), r.pending, charts.NEVER),
                ],
            ),
        )
        for r in board.requests
    ]
    return {
        "title": t(N_("Consent")),
        "board": board,
        "lists": [
            (
                x,
                purpose_bars(x, locale),
                coverage_chart(x, board.purposes, locale) if x.contacts else None,
            )
            for x in board.lists
        ],
        "requests": requests,
        "withdrawals_chart": withdrawals,
    }


def notices(ctx: Context, locale: str = "en") -> dict[str, Any]:
    return {"title": gettext_for(locale)(N_("Notices")), "notices": list_notices(ctx)}


def settings(ctx: Context, locale: str = "en") -> dict[str, Any]:
    t = gettext_for(locale)
    catalogue = translations(locale)
    policy = ctx.policy
    s = ctx.settings
    table = []
    for kind in MessageKind:
        for label, flags in ((N_("consented (bit 1)"), 1), (N_("not consented (NULL or 0)"), None)):
            table.append((kind.value, t(label), decide(policy, kind, flags).value))
    implications = []
    if policy.strategy is Strategy.LEGACY:
        implications.append(
            t(
                N_(
                    "NOT COMPLIANT: the legacy strategy puts a personal pixel in every marketing "
                    "email whatever the contact chose. Set CLEARPIXEL_STRATEGY=consent."
                )
            )
        )
    elif policy.strategy is Strategy.ANONYMOUS_ONLY:
        implications.append(t(N_("Marketing mail is only counted anonymously; nobody is tracked.")))
    else:
        implications.append(
            t(
                N_(
                    "Marketing mail carries a personal pixel only for contacts who granted open "
                    "tracking; the others get mode '%(mode)s'."
                )
            )
            % {"mode": policy.nonconsent_mode.value}
        )
    if policy.nonconsent_mode is TrackingMode.DELIVERABILITY:
        implications.append(
            t(
                N_(
                    "Deliverability mode keeps one date per contact (last open), used only to "
                    "stop mailing inactive people; it never feeds reports, segments or "
                    "personalisation."
                )
            )
        )
    if policy.transactional_mode is TrackingMode.PERSONAL:
        implications.append(
            t(N_("Transactional mail is exempt from consent and tracked personally."))
        )

    def days(n: int) -> str:
        return catalogue.ngettext("%(count)s day", "%(count)s days", n) % {"count": n}

    minutes = catalogue.ngettext(
        "%(count)s minute", "%(count)s minutes", s.consent_page_timeout_minutes
    ) % {"count": s.consent_page_timeout_minutes}
    dkim = f"{s.dkim_selector}._domainkey.{s.dkim_domain}" if s.dkim_domain else t(N_("off"))
    return {
        "title": t(N_("Settings")),
        "rows": [
            (t(N_("Strategy")), policy.strategy.value),
            (t(N_("Marketing without consent")), policy.nonconsent_mode.value),
            (t(N_("Transactional mail")), policy.transactional_mode.value),
            (t(N_("Security mail")), policy.security_mode.value),
            (t(N_("Consent-request cool-down")), days(s.cooldown_days)),
            (t(N_("Consent links valid for")), days(s.consent_link_days)),
            (t(N_("Consent page left open counts as no decision after")), minutes),
            (t(N_("Public base URL")), s.base_url),
            (t(N_("Database")), ctx.db.dialect),
            (t(N_("Purposes")), ", ".join(f"{p.name} ({p.bit})" for p in ctx.purposes)),
            ("DKIM", dkim),
        ],
        "decisions": table,
        "implications": implications,
        "compliant": policy.compliant,
        "lists": list_service.all_lists(ctx),
    }
