"""`clearpixel report CAMPAIGN [--json]`: a campaign's results from counters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from clearpixel.cli.base import app, console, context, print_json

if TYPE_CHECKING:
    from clearpixel.reports.campaign import CampaignReport, Split


def _split(split: Split) -> str:
    return f"{split.total} (human {split.human}, machine {split.machine}, unknown {split.unknown})"


def render(report: CampaignReport) -> list[str]:
    """The report as plain lines, each figure with its population."""
    r = report
    lines = [
        f"Campaign {r.name} (id {r.campaign_id}, {r.public_id}) — kind {r.kind}, {r.status}",
        f"Sent: {r.sent.value}  [{r.sent.population}]",
    ]
    lines += [f"  {s.kind} / {s.mode}: {s.n}" for s in r.sent_by]
    lines += [
        f"Personal unique openers: {r.personal_openers_any.value} of {r.personal_sent.value} "
        f"personal-mode sent; by verdict: human {r.personal_openers.human}, machine "
        f"{r.personal_openers.machine}, unknown {r.personal_openers.unknown}",
        f"  [{r.personal_openers_any.population}]",
        f"Implicit openers: {_split(r.implicit_openers)}  [{r.implicit_openers.population}]",
        f"Anonymous opens: {_split(r.anonymous_opens)}  [{r.anonymous_opens.population}]",
        f"Deliverability pixel hits: {_split(r.deliverability_hits)}",
        f"Clicks: {_split(r.clicks)}",
        f"Unique clickers: {_split(r.unique_clickers)}  [{r.unique_clickers.population}]",
    ]
    for link in r.links:
        lines.append(
            f"  link {link.link_id}: {link.clicks.value} clicks, "
            f"{link.unique_clickers.value} unique clickers — {link.url}"
        )
    for name, rate in (
        ("Open rate", r.open_rate),
        ("  machine opens (beside it)", r.open_rate_machine),
        ("  unknown opens (beside it)", r.open_rate_unknown),
        ("Click rate", r.click_rate),
        ("Click-to-open rate", r.click_to_open_rate),
    ):
        lines.append(
            f"{name}: {rate.percent()} ({rate.numerator}/{rate.denominator})  [{rate.population}]"
        )
    lines.append("Daily (opens human/machine/unknown, clicks):")
    lines += [
        f"  {b.start:%Y-%m-%d}: {b.opens_human}/{b.opens_machine}/{b.opens_unknown}, {b.clicks}"
        for b in r.daily
    ]
    lines.append("Hourly (UTC):")
    lines += [
        f"  {b.start:%Y-%m-%d %H}h: {b.opens_human}/{b.opens_machine}/{b.opens_unknown}, {b.clicks}"
        for b in r.hourly
    ]
    if r.dropped:
        lines.append(
            "Hits without a personal event: " + ", ".join(f"{k} {v}" for k, v in r.dropped.items())
        )
    return lines


@app.command("report")
def report(
    campaign: str = typer.Argument(..., help="Campaign id, public id or name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """A campaign's results from counters: sends by mode, openers, clicks, rates, over time."""
    from clearpixel.reports import deliverability
    from clearpixel.reports.campaign import campaign_report

    with context() as ctx:
        result = campaign_report(ctx, campaign)
        bounces = deliverability.deliverability_figures(ctx, result.campaign_id)
    if as_json:
        print_json({**result.to_dict(), "deliverability": bounces.to_dict()})
        return
    for line in [*render(result), *deliverability.render(bounces)]:
        console.print(line, markup=False)
