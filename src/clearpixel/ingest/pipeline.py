"""The ingest pipeline: a batch of hits from the buffer becomes events and counters.

Each batch runs the named steps of `STEPS` in one transaction. A step may drop a hit with a
typed reason (`DropReason`); drops are counted in `hit_drops`, never silent. The consent check
is made here, from the flags *now* (DESIGN §3, R5): a personal pixel of a contact who has since
withdrawn becomes an anonymous count and keeps nothing personal, and so does a click in mail
sent to that contact personally. Hits carry no IP address or user agent: those were dropped
at the edge once the hit was classified (R17, R20). Deliverability hits only overwrite
`last_open_date` (R6); other clicks are always recorded with their contact (R14).

Steps: resolve_campaigns → load_sends → load_flags → classify_timing → decide →
count_uniques → write_events → bump_counters → update_dates → count_drops.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from clearpixel.domain.events import DropReason, Hit, HitKind, HitSource, MachineReason, Verdict
from clearpixel.domain.modes import by_hit_source, mode_of
from clearpixel.domain.policy import MessageKind, TrackingMode, TrackingPolicy, decide_at_ingest
from clearpixel.ingest.uniques import count_uniques
from clearpixel.store import Database, Tx
from clearpixel.store import hits as store
from clearpixel.store.events import insert_personal_events
from clearpixel.store.partitions import MonthlyPartitions

log = logging.getLogger("clearpixel.ingest")

# Machine reasons that say nothing about the recipient being active: no last-open date.
NOT_ACTIVITY = frozenset(
    {
        str(MachineReason.SECURITY_SCANNER),
        str(MachineReason.PREFETCH),
        str(MachineReason.BURST),
        str(MachineReason.AUTOMATED),
    }
)
KEEP_BATCH_IDS = timedelta(days=7)
SEND_CACHE_SIZE = 200_000


@dataclass
class Batch:
    """Hits handed over by the buffer, with an id that makes replays apply exactly once, and
    the drops the request path counted (bad tokens) by reason."""

    id: str
    hits: list[Hit]
    drops: dict[str, int] = field(default_factory=dict)


@dataclass
class HitInPipeline:
    """One hit on its way through the steps."""

    hit: Hit
    campaign: store.CampaignFacts | None = None
    send: store.SendFacts | None = None
    kind: MessageKind = MessageKind.MARKETING
    sent_mode: TrackingMode = TrackingMode.ANONYMOUS
    mode: TrackingMode = TrackingMode.ANONYMOUS
    flags: int | None = None
    contact_known: bool = False
    verdict: Verdict = Verdict.UNKNOWN
    reason: str = ""
    rule: str = ""
    personal: bool = False  # becomes a personal event with the contact
    dropped: DropReason | None = None  # no personal event, for this reason
    discarded: bool = False  # counts nowhere but in hit_drops

    @property
    def hour(self) -> datetime:
        return _hour(int(self.hit.at // 3600))


@lru_cache(maxsize=4096)
def _hour(hours: int) -> datetime:
    """The UTC hour that many hours after the epoch (hits of a batch share a few)."""
    return datetime.fromtimestamp(hours * 3600, UTC)


@lru_cache(maxsize=1024)
def _day(days: int) -> date:
    return datetime.fromtimestamp(days * 86400, UTC).date()


@dataclass
class BatchState:
    tx: Tx
    policy: TrackingPolicy
    scanner_window: float
    ip_version: str
    items: list[HitInPipeline]
    send_cache: dict[tuple[int, int], store.SendFacts] = field(default_factory=dict)
    drops: Counter[tuple[int, datetime, str]] = field(default_factory=Counter)
    events: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[int, store.ContactNow] = field(default_factory=dict)

    def live(self) -> list[HitInPipeline]:
        return [item for item in self.items if not item.discarded]

    def drop(self, item: HitInPipeline, reason: DropReason, *, discard: bool = False) -> None:
        """Count `item` as dropped for `reason`; `discard` takes it out of every other count."""
        item.dropped = reason
        item.personal = False
        item.discarded = item.discarded or discard
        cid = item.campaign.id if item.campaign else 0
        self.drops[(cid, item.hour, str(reason))] += 1


# --- the steps ---------------------------------------------------------------------------------


def resolve_campaigns(state: BatchState) -> None:
    """Find each hit's campaign (by id, or by public id for anonymous pixels) in one query."""
    ids = sorted({i.hit.campaign_id for i in state.items if i.hit.campaign_id})
    public_ids = sorted({i.hit.public_id for i in state.items if i.hit.public_id})
    by_id, by_public = store.campaigns_for(state.tx, ids, public_ids)
    for item in state.items:
        hit = item.hit
        item.campaign = (
            by_public.get(hit.public_id) if hit.public_id else by_id.get(hit.campaign_id)
        )
        if item.campaign is None:
            state.drop(item, DropReason.UNKNOWN_CAMPAIGN, discard=True)
        else:
            item.kind = MessageKind(item.campaign.kind)


def load_sends(state: BatchState) -> None:
    """Kind, mode and delivery time of each per-recipient hit's send, in one query. A pixel's
    mode is the one its signed token names; a click takes the mode of its send."""
    cache = state.send_cache
    wanted = {
        (i.hit.campaign_id, i.hit.contact_id)
        for i in state.live()
        if i.hit.contact_id and (i.hit.campaign_id, i.hit.contact_id) not in cache
    }
    if wanted:
        if len(cache) + len(wanted) > SEND_CACHE_SIZE:
            cache.clear()
        cache.update(store.sends_for(state.tx, sorted(wanted)))
    for item in state.live():
        item.send = cache.get((item.hit.campaign_id, item.hit.contact_id))
        if item.send is not None:
            item.kind = MessageKind(item.send.kind)
        if item.hit.source is HitSource.CLICK:
            item.sent_mode = TrackingMode(item.send.mode) if item.send else TrackingMode.NONE
            if item.kind is MessageKind.CONSENT_REQUEST:
                state.drop(item, DropReason.NO_CLICK_TRACKING, discard=True)
        else:
            item.sent_mode = by_hit_source(item.hit.source).mode
            if item.kind is MessageKind.CONSENT_REQUEST:  # sent with no pixel at all (R3)
                state.drop(item, DropReason.NO_PIXEL, discard=True)


def load_flags(state: BatchState) -> None:
    """The current flags of the batch's contacts, in one query."""
    items = [i for i in state.live() if i.hit.contact_id]
    state.contacts = store.contacts_now(state.tx, [i.hit.contact_id for i in items])
    for item in items:
        now = state.contacts.get(item.hit.contact_id)
        item.contact_known = now is not None
        item.flags = now.privacy_flags if now is not None else None


def classify_timing(state: BatchState) -> None:
    """A hit from a scanner network within seconds of delivery is a security scanner."""
    for item in state.live():
        hit = item.hit
        item.verdict, item.reason, item.rule = hit.verdict, hit.reason, hit.rule
        sent_at = item.send.sent_at if item.send is not None else None
        if hit.scanner_net and sent_at and hit.at - sent_at.timestamp() <= state.scanner_window:
            item.verdict = Verdict.MACHINE
            item.reason = str(MachineReason.SECURITY_SCANNER)
            item.rule = f"ip:scanner_networks+delivery@{state.ip_version}"


def decide(state: BatchState) -> None:
    """Apply the decision table from the flags now: what each hit may become."""
    for item in state.live():
        hit = item.hit
        if hit.kind is HitKind.CLICK:
            item.mode = item.sent_mode
            item.personal = item.contact_known
            if not item.contact_known:
                state.drop(item, DropReason.UNKNOWN_CONTACT)
            elif item.sent_mode is TrackingMode.PERSONAL and not _still_personal(state, item):
                # mail sent personally to a contact who has withdrawn since (R5)
                state.drop(item, DropReason.WITHDRAWN)
            continue
        item.mode = decide_at_ingest(state.policy, item.kind, item.sent_mode, item.flags)
        if item.sent_mode is TrackingMode.ANONYMOUS:
            continue
        if not item.contact_known:
            item.mode = TrackingMode.ANONYMOUS
            state.drop(item, DropReason.UNKNOWN_CONTACT)
        elif item.mode is TrackingMode.PERSONAL:
            item.personal = True
        elif item.sent_mode is TrackingMode.PERSONAL:
            state.drop(item, DropReason.WITHDRAWN)


def _still_personal(state: BatchState, item: HitInPipeline) -> bool:
    """Whether mail of this kind would still be tracked personally for the contact now."""
    mode = decide_at_ingest(state.policy, item.kind, TrackingMode.PERSONAL, item.flags)
    return mode is TrackingMode.PERSONAL


def write_events(state: BatchState) -> None:
    """Personal opens and clicks: campaign, contact, link, time and verdict, nothing about
    the requester (R17)."""
    for item in state.live():
        if not item.personal:
            continue
        hit = item.hit
        state.events.append(
            {
                "campaign_id": hit.campaign_id,
                "contact_id": hit.contact_id,
                "event": str(hit.kind),
                "link_id": hit.link_id or None,
                "at": datetime.fromtimestamp(hit.at, UTC),
                "verdict": str(item.verdict),
                "reason": item.reason or None,
                "rule": item.rule[:64] or None,
            }
        )
    insert_personal_events(state.tx, state.events)


def bump_counters(state: BatchState) -> None:
    """campaign × hour × mode × kind × event × verdict, one upsert per batch."""
    counts: Counter[tuple[int, datetime, str, str, str, str]] = Counter()
    for item in state.live():
        assert item.campaign is not None
        key = (
            item.campaign.id,
            item.hour,
            str(item.mode),
            str(item.kind),
            str(item.hit.kind),
            str(item.verdict),
        )
        counts[key] += 1
    store.bump_counters(state.tx, counts)


def update_dates(state: BatchState) -> None:
    """last_open_date from deliverability and personal opens (not from scanners), and
    last_click_date from clicks: dates only, overwritten (R6)."""
    opens: dict[int, Any] = {}
    clicks: dict[int, Any] = {}
    for item in state.live():
        hit = item.hit
        if not item.contact_known or item.reason in NOT_ACTIVITY:
            continue
        day = _day(int(hit.at // 86400))
        if hit.kind is HitKind.CLICK:
            clicks[hit.contact_id] = max(day, clicks.get(hit.contact_id, day))
        elif mode_of(item.mode).sets_last_open:
            opens[hit.contact_id] = max(day, opens.get(hit.contact_id, day))
    # only rows whose date changes are written: most hits of a day cost no update
    known = state.contacts
    store.set_last_open_dates(
        state.tx, {c: d for c, d in opens.items() if known[c].last_open_date != d}
    )
    store.set_last_click_dates(
        state.tx, {c: d for c, d in clicks.items() if known[c].last_click_date != d}
    )


def count_drops(state: BatchState) -> None:
    store.bump_drops(state.tx, state.drops)


Step = Callable[[BatchState], None]
STEPS: list[tuple[str, Step]] = [
    ("resolve_campaigns", resolve_campaigns),
    ("load_sends", load_sends),
    ("load_flags", load_flags),
    ("classify_timing", classify_timing),
    ("decide", decide),
    ("count_uniques", count_uniques),
    ("write_events", write_events),
    ("bump_counters", bump_counters),
    ("update_dates", update_dates),
    ("count_drops", count_drops),
]


@dataclass(frozen=True, slots=True)
class IngestResult:
    batch_id: str
    replayed: bool  # the batch had already been ingested: nothing done
    hits: int
    personal_events: int
    drops: Mapping[str, int]


class Pipeline:
    """Runs batches through `STEPS`, one transaction per batch, each batch id applied once."""

    def __init__(
        self,
        db: Database,
        policy: TrackingPolicy,
        *,
        now: Callable[[], datetime],
        scanner_window: float = 60.0,
        ip_version: str = "",
    ) -> None:
        self.db = db
        self.policy = policy
        self.now = now
        self.scanner_window = scanner_window
        self.ip_version = ip_version
        self._last_prune: datetime | None = None
        self._months = MonthlyPartitions(db)  # PostgreSQL: the months events go to exist
        # A send's kind, mode and delivery time never change once it is sent: kept across
        # batches (bounded). Flags are never cached: the consent check reads them each batch.
        self._send_cache: dict[tuple[int, int], store.SendFacts] = {}

    def ingest(self, batch: Batch, *, now: datetime | None = None) -> IngestResult:
        """Ingest one batch as of `now` (default: the pipeline's clock, read once). Raises if
        the database fails; nothing is then written.

        Effects: personal_events rows, hit_counters, campaign_totals, hit_drops,
        contacts.last_open_date/last_click_date, one ingested_batches row."""
        now = self.now() if now is None else now
        self._months.ensure((hit.at for hit in batch.hits), now=now)
        with self.db.begin() as tx:
            if store.batch_seen(tx, batch.id):
                return IngestResult(batch.id, True, len(batch.hits), 0, {})
            store.mark_batch(tx, batch.id, now=now)
            state = BatchState(
                tx=tx,
                policy=self.policy,
                scanner_window=self.scanner_window,
                ip_version=self.ip_version,
                items=[HitInPipeline(hit) for hit in batch.hits],
                send_cache=self._send_cache,
            )
            hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            for reason, n in batch.drops.items():
                state.drops[(0, hour, reason)] += n
            for _name, step in STEPS:
                step(state)
            if self._last_prune is None or now - self._last_prune > timedelta(hours=1):
                store.prune_batches(tx, before=now - KEEP_BATCH_IDS)
                self._last_prune = now
        drops: Counter[str] = Counter()
        for (_, _, reason), n in state.drops.items():
            drops[reason] += n
        return IngestResult(batch.id, False, len(batch.hits), len(state.events), dict(drops))
