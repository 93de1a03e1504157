"""The campaign totals that ingest counts and the campaign report reads back: one enum, so
the names both sides use are the same, checked by the type checker.

A total is stored per (campaign, metric, link id); the metrics counted per verdict are stored
under `metric.by(verdict)` as well (`openers_human`, `implicit_openers_machine`, ...).
"""

from __future__ import annotations

from enum import StrEnum

from clearpixel.domain.events import Verdict


class Metric(StrEnum):
    OPENERS = "openers"  # unique recipients with a personal open (and per verdict)
    CLICKERS = "clickers"  # unique recipients with a click (and per verdict)
    IMPLICIT_OPENERS = "implicit_openers"  # clicked, no open recorded (and per verdict)
    LINK_CLICKS = "link_clicks"  # clicks on one link (link id)
    LINK_CLICKERS = "link_clickers"  # unique recipients who clicked one link (link id)

    def by(self, verdict: Verdict) -> str:
        """The name of this metric counted for one verdict."""
        return f"{self.value}_{verdict.value}"
