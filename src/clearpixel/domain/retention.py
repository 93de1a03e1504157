"""Retention windows: how long each kind of stored data is kept, the documented default and
the maximum beyond which `clearpixel check` says the installation keeps too much.

Reasons (also in README "Retention"):
- personal open and click events: 13 months, the lifetime the CNIL accepts for audience
  measurement trackers; past 25 months they serve no measurement purpose;
- last-open and last-click dates (inactivity suppression only, R6): cleared after a year
  without a hit; the CNIL's guidance keeps inactive prospects' data three years at most;
- spill and journal files (raw hits waiting for the database, R20): hours, three days at most;
- proof of consent after a contact is erased: five years, the limitation period of the claims
  the proof answers (French civil code art. 2224), six at most.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from clearpixel.domain.errors import N_, Message


@dataclass(frozen=True, slots=True)
class Window:
    """One retention window: what it covers, its length, and the documented maximum."""

    name: str
    setting: str
    kept: timedelta
    maximum: timedelta

    @property
    def beyond_maximum(self) -> bool:
        return self.kept > self.maximum

    def words(self, length: timedelta) -> Message:
        """`length` in the unit of this window's setting (hours or days)."""
        if self.setting.endswith("_HOURS"):
            return Message(N_("%(n)s hours"), n=int(length.total_seconds() // 3600))
        return Message(N_("%(n)s days"), n=length.days)


DEFAULT_PERSONAL_EVENTS_DAYS = 396  # 13 months
MAX_PERSONAL_EVENTS_DAYS = 762  # 25 months
DEFAULT_LAST_OPEN_DAYS = 365
MAX_LAST_OPEN_DAYS = 1095  # 3 years
DEFAULT_SPILL_HOURS = 24
MAX_SPILL_HOURS = 72
DEFAULT_PROOF_AFTER_ERASURE_DAYS = 1826  # 5 years
MAX_PROOF_AFTER_ERASURE_DAYS = 2192  # 6 years


def windows(
    *, personal_events_days: int, last_open_days: int, spill_hours: int, proof_days: int
) -> list[Window]:
    """The windows in force, with their maximums."""
    return [
        Window(
            N_("personal opens and clicks"),
            "CLEARPIXEL_RETENTION_PERSONAL_EVENTS_DAYS",
            timedelta(days=personal_events_days),
            timedelta(days=MAX_PERSONAL_EVENTS_DAYS),
        ),
        Window(
            N_("last-open and last-click dates without a new hit"),
            "CLEARPIXEL_RETENTION_LAST_OPEN_DAYS",
            timedelta(days=last_open_days),
            timedelta(days=MAX_LAST_OPEN_DAYS),
        ),
        Window(
            N_("raw hits in spill files"),
            "CLEARPIXEL_RETENTION_SPILL_HOURS",
            timedelta(hours=spill_hours),
            timedelta(hours=MAX_SPILL_HOURS),
        ),
        Window(
            N_("proof of consent after erasure"),
            "CLEARPIXEL_RETENTION_PROOF_AFTER_ERASURE_DAYS",
            timedelta(days=proof_days),
            timedelta(days=MAX_PROOF_AFTER_ERASURE_DAYS),
        ),
    ]
