"""The ingest step that keeps the campaign totals of unique people: unique openers and
clickers (overall, per verdict, per link) and implicit openers, counted as each batch arrives
so the campaign report never scans events. The names are `domain.metrics.Metric`, the ones the
report reads back."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from clearpixel.domain.events import HitKind, Verdict
from clearpixel.domain.metrics import Metric
from clearpixel.store import hits as store

if TYPE_CHECKING:
    from clearpixel.ingest.pipeline import BatchState


def count_uniques(state: BatchState) -> None:
    """Unique openers and unique clickers (overall and by verdict, clickers per link) and
    implicit openers (clicked, no open recorded), so the report never scans events. A machine
    click (a link scanner) never makes an implicit open; per verdict, an implicit opener
    clicked with that verdict and never opened with it. Runs before `write_events`: it
    compares the batch with the events stored before it."""
    items = [i for i in state.live() if i.personal]
    history = store.prior_events(state.tx, [(i.hit.campaign_id, i.hit.contact_id) for i in items])
    totals: Counter[tuple[int, str, int]] = Counter()
    for item in items:
        hit = item.hit
        pair = (hit.campaign_id, hit.contact_id)
        past = history.setdefault(pair, set())
        verdict = item.verdict
        machine = verdict is Verdict.MACHINE
        opened = {v for e, v, _ in past if e == HitKind.OPEN}
        clicked = {v for e, v, _ in past if e == HitKind.CLICK}
        person_clicked = bool(clicked - {Verdict.MACHINE})
        cid = hit.campaign_id
        if hit.kind is HitKind.OPEN:
            if verdict not in opened:
                totals[(cid, Metric.OPENERS.by(verdict), 0)] += 1
                if verdict in clicked and not machine:
                    totals[(cid, Metric.IMPLICIT_OPENERS.by(verdict), 0)] -= 1
            if not opened:
                totals[(cid, Metric.OPENERS, 0)] += 1
                if person_clicked:
                    totals[(cid, Metric.IMPLICIT_OPENERS, 0)] -= 1
            past.add((HitKind.OPEN, verdict, 0))
        else:
            if not clicked:
                totals[(cid, Metric.CLICKERS, 0)] += 1
            if verdict not in clicked:
                totals[(cid, Metric.CLICKERS.by(verdict), 0)] += 1
                if not machine and verdict not in opened:
                    totals[(cid, Metric.IMPLICIT_OPENERS.by(verdict), 0)] += 1
            if not machine and not person_clicked and not opened:
                totals[(cid, Metric.IMPLICIT_OPENERS, 0)] += 1
            if not any(e == HitKind.CLICK and link == hit.link_id for e, _, link in past):
                totals[(cid, Metric.LINK_CLICKERS, hit.link_id)] += 1
            past.add((HitKind.CLICK, verdict, hit.link_id))
    for item in state.live():
        if item.hit.kind is HitKind.CLICK:
            totals[(item.hit.campaign_id, Metric.LINK_CLICKS, item.hit.link_id)] += 1
    store.bump_totals(state.tx, totals)
