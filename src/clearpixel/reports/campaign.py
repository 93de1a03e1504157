"""The per-campaign report (DESIGN §7), computed from counters only: its cost does not grow
with the number of hits.

Every figure carries its population, because the populations differ: personal opens are
unique recipients among those whose opens can be known (personal mode: consented, exempt or
legacy), anonymous opens are total pixel hits of a campaign-wide pixel (not unique, not
per person), clicks are recorded in every mode.

The headline figures count people, not machines: the open rate is human openers over
personal-mode sends, with the machine (mail proxies such as Apple's) and unknown rates beside
it; clicks, unique clickers and implicit openers (clicked, no open recorded) are split by
verdict, and a machine click (a link scanner) never makes an implicit open. The click rate is
human clickers over all sent, and the click-to-open rate divides human clickers by known
human openers *including human implicit openers*, so it cannot exceed 100%. Nothing is
dropped: every verdict is shown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from clearpixel.context import Context
from clearpixel.domain.events import HitKind, Verdict
from clearpixel.domain.metrics import Metric
from clearpixel.domain.policy import TrackingMode
from clearpixel.store import campaign_results as store
from clearpixel.store.campaigns import find_campaign, get_links
from clearpixel.store.sends import SENT

SENT_POP = "emails accepted by the transport (sends marked sent)"
PERSONAL_POP = "recipients of personal-mode emails (consented, or exempt kinds)"
ANON_POP = "hits on the campaign-wide anonymous pixel: total hits, not unique people"
DELIV_POP = "hits on deliverability pixels: total hits, used only for inactivity"
CLICK_POP = "clicks in emails of every tracking mode (always recorded)"
IMPLICIT_POP = "recipients who clicked but whose open was never recorded"


@dataclass(frozen=True, slots=True)
class Figure:
    value: int
    population: str


@dataclass(frozen=True, slots=True)
class Rate:
    numerator: int
    denominator: int
    population: str

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    def percent(self) -> str:
        return "n/a" if self.value is None else f"{self.value * 100:.1f}%"


@dataclass(frozen=True, slots=True)
class Split:
    """Human / machine / unknown counts of one population."""

    human: int
    machine: int
    unknown: int
    population: str

    @property
    def total(self) -> int:
        return self.human + self.machine + self.unknown


@dataclass(frozen=True, slots=True)
class SentCount:
    kind: str
    mode: str
    n: int


@dataclass(frozen=True, slots=True)
class LinkStats:
    link_id: int
    url: str
    clicks: Figure
    unique_clickers: Figure


@dataclass(frozen=True, slots=True)
class Bucket:
    """Opens (all pixel modes, by verdict) and clicks in one hour or day."""

    start: datetime
    opens_human: int = 0
    opens_machine: int = 0
    opens_unknown: int = 0
    clicks: int = 0


@dataclass(frozen=True, slots=True)
class CampaignReport:
    campaign_id: int
    public_id: str
    name: str
    kind: str
    status: str
    sent: Figure
    sent_by: list[SentCount]
    personal_sent: Figure
    personal_openers: Split  # unique recipients; one may count as both human and machine
    personal_openers_any: Figure
    implicit_openers: Split  # machine is always 0: a scanner's click is no open
    anonymous_opens: Split
    personal_open_hits: Split
    deliverability_hits: Split
    clicks: Split
    unique_clickers: Split
    links: list[LinkStats]
    open_rate: Rate  # human openers / personal-mode sent: the headline
    open_rate_machine: Rate
    open_rate_unknown: Rate
    click_rate: Rate
    click_to_open_rate: Rate
    hourly: list[Bucket]
    daily: list[Bucket]
    dropped: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON, rates with their value."""
        data = asdict(self)
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Rate):
                data[f.name]["value"] = value.value
            elif isinstance(value, Split):
                data[f.name]["total"] = value.total
        return data


def _split(counts: dict[str, int], population: str) -> Split:
    return Split(
        counts.get("human", 0), counts.get("machine", 0), counts.get("unknown", 0), population
    )


def campaign_report(ctx: Context, ref: str) -> CampaignReport:
    """The report of the campaign named by id, public id or name (raises UnknownCampaign)."""
    with ctx.db.connect() as tx:
        head = find_campaign(tx, ref)
        sent = store.sent_counts(tx, head.id, statuses=[SENT])
        counters = store.counters_of(tx, head.id)
        totals = store.totals_of(tx, head.id)
        dropped = store.drops_of(tx, head.id)
        urls = get_links(tx, head.id)

    opens: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    clicks_by: dict[str, int] = defaultdict(int)
    hourly: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for hour, mode, _kind, event, verdict, n in counters:
        if event == HitKind.OPEN:
            opens[mode][verdict] += n
            hourly[hour][f"opens_{verdict}"] += n
        else:
            clicks_by[verdict] += n
            hourly[hour]["clicks"] += n
    daily: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for hour, values in hourly.items():
        day = hour.replace(hour=0)
        for key, n in values.items():
            daily[day][key] += n

    def metric(name: str, link: int = 0) -> int:
        return totals.get((name, link), 0)

    def by_verdict(name: Metric, population: str) -> Split:
        return Split(
            metric(name.by(Verdict.HUMAN)),
            metric(name.by(Verdict.MACHINE)),
            metric(name.by(Verdict.UNKNOWN)),
            population,
        )

    sent_total = sum(sent.values())
    personal_sent = sum(n for (_, mode), n in sent.items() if mode == TrackingMode.PERSONAL)
    openers_any = metric(Metric.OPENERS)
    openers = by_verdict(Metric.OPENERS, "unique " + PERSONAL_POP + " who opened, by verdict")
    clickers = by_verdict(
        Metric.CLICKERS, CLICK_POP + ": unique recipients who clicked, by verdict"
    )
    implicit = by_verdict(Metric.IMPLICIT_OPENERS, IMPLICIT_POP + ", by verdict of the click")
    opened_rate = "unique {} openers / personal-mode sent"
    link_ids = sorted(set(urls) | {link for (name, link) in totals if name == Metric.LINK_CLICKS})
    return CampaignReport(
        campaign_id=head.id,
        public_id=head.public_id,
        name=head.name,
        kind=head.kind,
        status=head.status,
        sent=Figure(sent_total, SENT_POP),
        sent_by=[SentCount(k, m, n) for (k, m), n in sorted(sent.items())],
        personal_sent=Figure(personal_sent, PERSONAL_POP),
        personal_openers=openers,
        personal_openers_any=Figure(openers_any, "unique " + PERSONAL_POP + " who opened"),
        implicit_openers=implicit,
        anonymous_opens=_split(opens.get(TrackingMode.ANONYMOUS, {}), ANON_POP),
        personal_open_hits=_split(
            opens.get(TrackingMode.PERSONAL, {}), "hits on personal pixels (not unique)"
        ),
        deliverability_hits=_split(opens.get(TrackingMode.DELIVERABILITY, {}), DELIV_POP),
        clicks=_split(clicks_by, CLICK_POP + ": total clicks, by verdict"),
        unique_clickers=clickers,
        links=[
            LinkStats(
                link,
                urls.get(link, ""),
                Figure(metric(Metric.LINK_CLICKS, link), "total clicks on this link"),
                Figure(
                    metric(Metric.LINK_CLICKERS, link), "unique recipients who clicked this link"
                ),
            )
            for link in link_ids
        ],
        open_rate=Rate(openers.human, personal_sent, opened_rate.format("human")),
        open_rate_machine=Rate(openers.machine, personal_sent, opened_rate.format("machine")),
        open_rate_unknown=Rate(openers.unknown, personal_sent, opened_rate.format("unknown")),
        click_rate=Rate(clickers.human, sent_total, "unique human clickers / all sent"),
        click_to_open_rate=Rate(
            clickers.human,
            openers.human + implicit.human,
            "unique human clickers / known human openers (human openers + human implicit openers)",
        ),
        hourly=[Bucket(h, **v) for h, v in sorted(hourly.items())],
        daily=[Bucket(d, **v) for d, v in sorted(daily.items())],
        dropped=dict(sorted(dropped.items())),
    )
