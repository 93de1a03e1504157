"""The consent dashboard (DESIGN §7): per list and purpose, contacts never asked (NULL),
asked without consent (0 for that purpose) and granted; the same over time, rebuilt from the
ledger's daily changes; consent-request outcomes (accepted / refused / no decision); and
withdrawals of open-tracking consent per day. Aggregates only: no address appears."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from clearpixel.context import Context
from clearpixel.store import consent_coverage as store
from clearpixel.store import consent_requests


@dataclass(frozen=True, slots=True)
class PurposeCoverage:
    purpose: str
    never_asked: int
    refused: int  # asked, purpose not granted
    granted: int

    @property
    def granted_share(self) -> float:
        total = self.never_asked + self.refused + self.granted
        return self.granted / total if total else 0.0


@dataclass(frozen=True, slots=True)
class CoveragePoint:
    day: date
    contacts: int
    never_asked: int
    granted: dict[str, int]


@dataclass(frozen=True, slots=True)
class ListConsent:
    list_id: int
    list_name: str
    contacts: int
    never_asked: int
    purposes: list[PurposeCoverage]
    history: list[CoveragePoint]


@dataclass(frozen=True, slots=True)
class RequestCampaign:
    campaign_id: int
    name: str
    created_at: datetime
    sent: int
    viewed: int
    accepted: int
    refused: int
    no_decision: int  # page left or link expired unanswered: counts as a refusal (R9)
    superseded: int
    pending: int  # sent, no outcome yet

    @property
    def answered(self) -> int:
        return self.accepted + self.refused + self.no_decision


@dataclass(frozen=True, slots=True)
class Withdrawals:
    day: date
    total: int
    by_method: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConsentDashboard:
    generated_at: datetime
    purposes: list[str]
    lists: list[ListConsent]
    requests: list[RequestCampaign]
    withdrawals: list[Withdrawals]

    def as_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(),
            "purposes": self.purposes,
            "lists": [
                {
                    "list_id": x.list_id,
                    "list": x.list_name,
                    "contacts": x.contacts,
                    "never_asked": x.never_asked,
                    "purposes": {
                        p.purpose: {
                            "never_asked": p.never_asked,
                            "refused": p.refused,
                            "granted": p.granted,
                        }
                        for p in x.purposes
                    },
                    "history": [
                        {
                            "day": point.day.isoformat(),
                            "contacts": point.contacts,
                            "never_asked": point.never_asked,
                            "granted": point.granted,
                        }
                        for point in x.history
                    ],
                }
                for x in self.lists
            ],
            "consent_requests": [
                {
                    "campaign_id": r.campaign_id,
                    "name": r.name,
                    "sent": r.sent,
                    "viewed": r.viewed,
                    "accepted": r.accepted,
                    "refused": r.refused,
                    "no_decision": r.no_decision,
                    "superseded": r.superseded,
                    "pending": r.pending,
                }
                for r in self.requests
            ],
            "withdrawals": [
                {"day": w.day.isoformat(), "total": w.total, "by_method": w.by_method}
                for w in self.withdrawals
            ],
        }


def consent_dashboard(ctx: Context) -> ConsentDashboard:
    """Build the whole dashboard from aggregate queries (no contact rows are read)."""
    purposes = list(ctx.purposes)
    bits = [p.bit for p in purposes]
    with ctx.db.connect() as conn:
        now_rows = store.coverage_now(conn, bits)
        changes = store.coverage_changes(conn, bits)
        added = store.contacts_added(conn)
        outcomes = consent_requests.request_outcomes(conn)
        withdrawn = store.withdrawals_by_day(conn)
    histories = _histories(
        purposes_by_bit={p.bit: p.name for p in purposes}, changes=changes, added=added
    )
    lists = [
        ListConsent(
            list_id=row.list_id,
            list_name=row.list_name,
            contacts=row.contacts,
            never_asked=row.never_asked,
            purposes=[
                PurposeCoverage(
                    purpose=p.name,
                    never_asked=row.never_asked,
                    refused=row.contacts - row.never_asked - row.granted[p.bit],
                    granted=row.granted[p.bit],
                )
                for p in purposes
            ],
            history=histories.get(row.list_id, []),
        )
        for row in now_rows
    ]
    requests = []
    for item in outcomes:
        counted = item.outcomes
        decided = sum(counted.values())
        requests.append(
            RequestCampaign(
                campaign_id=item.campaign_id,
                name=item.name,
                created_at=item.created_at,
                sent=item.sent,
                viewed=item.viewed,
                accepted=counted.get("accepted", 0),
                refused=counted.get("refused", 0),
                no_decision=counted.get("no_action", 0),
                superseded=counted.get("superseded", 0),
                pending=max(item.sent - decided, 0),
            )
        )
    per_day: dict[date, dict[str, int]] = defaultdict(dict)
    for day, method, n in withdrawn:
        per_day[day][method] = per_day[day].get(method, 0) + n
    withdrawals = [
        Withdrawals(day, sum(methods.values()), methods) for day, methods in sorted(per_day.items())
    ]
    return ConsentDashboard(
        generated_at=ctx.now(),
        purposes=[p.name for p in purposes],
        lists=lists,
        requests=requests,
        withdrawals=withdrawals,
    )


def _histories(
    *,
    purposes_by_bit: dict[int, str],
    changes: list[store.DayChange],
    added: list[tuple[int, date, int]],
) -> dict[int, list[CoveragePoint]]:
    """Running totals per list and day: contacts, never asked, holders of each purpose."""
    events: dict[int, dict[date, tuple[int, int, dict[int, int]]]] = defaultdict(dict)
    for list_id, day, n in added:
        _, asked, delta = events[list_id].get(day, (0, 0, {}))
        events[list_id][day] = (n, asked, delta)
    for change in changes:
        n, _, _ = events[change.list_id].get(change.day, (0, 0, {}))
        events[change.list_id][change.day] = (n, change.asked, change.delta)
    result: dict[int, list[CoveragePoint]] = {}
    for list_id, days in events.items():
        contacts = asked = 0
        holders = dict.fromkeys(purposes_by_bit, 0)
        points = []
        for day in sorted(days):
            n, newly_asked, delta = days[day]
            contacts += n
            asked += newly_asked
            for bit, moved in delta.items():
                holders[bit] += moved
            points.append(
                CoveragePoint(
                    day=day,
                    contacts=contacts,
                    never_asked=max(contacts - asked, 0),
                    granted={purposes_by_bit[b]: holders[b] for b in purposes_by_bit},
                )
            )
        result[list_id] = points
    return result
