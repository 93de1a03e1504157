"""The deliverability section of a campaign report: hard and soft bounces and complaints,
each as distinct recipients and as a rate over the messages handed to the server (sent, or
refused by it: a recipient refused at RCPT TO was never "sent" but did bounce, so the rate
stays within 100%), and the recipients skipped at delivery by reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from clearpixel.context import Context
from clearpixel.reports.campaign import Rate
from clearpixel.store import bounces as bounce_store
from clearpixel.store.sends import FAILED, SENT, count_by_status

ATTEMPTED_POP = "messages handed to the server: sent, or refused by it"


@dataclass(frozen=True, slots=True)
class DeliverabilityFigures:
    attempted: int
    hard_bounces: Rate
    soft_bounces: Rate
    complaints: Rate
    skipped: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("hard_bounces", "soft_bounces", "complaints"):
            data[name]["value"] = getattr(self, name).value
        return data


def deliverability_figures(ctx: Context, campaign_id: int) -> DeliverabilityFigures:
    """Bounces, complaints and skips of one campaign (distinct recipients per kind)."""
    with ctx.db.connect() as conn:
        statuses = count_by_status(conn, campaign_id)
        kinds = bounce_store.counts_for_campaign(conn, campaign_id)
        skipped = bounce_store.skipped_by_reason(conn, campaign_id)
    attempted = statuses.get(SENT, 0) + statuses.get(FAILED, 0)

    def rate(kind: str) -> Rate:
        return Rate(kinds.get(kind, 0), attempted, ATTEMPTED_POP)

    return DeliverabilityFigures(
        attempted=attempted,
        hard_bounces=rate("hard"),
        soft_bounces=rate("soft"),
        complaints=rate("complaint"),
        skipped=skipped,
    )


def render(figures: DeliverabilityFigures) -> list[str]:
    """The section as lines of text."""

    def line(label: str, r: Rate) -> str:
        return f"  {label}: {r.numerator} ({r.percent()} of {r.denominator})"

    lines = [
        f"Deliverability (over {ATTEMPTED_POP}):",
        line("hard bounces", figures.hard_bounces),
        line("soft bounces", figures.soft_bounces),
        line("complaints", figures.complaints),
    ]
    if figures.skipped:
        lines.append(
            "  skipped at delivery: "
            + ", ".join(f"{k} {v}" for k, v in sorted(figures.skipped.items()))
        )
    return lines
