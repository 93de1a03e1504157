"""Sending a campaign, in two steps, both safe to interrupt at any point and to run again:

1. record: stream the list and insert one `pending` send row per eligible recipient (mode
   and purposes from the flags at that moment; a contact that already has a row keeps it);
   the others are counted by reason (unsubscribed, already consents, cool-down, inactive);
2. deliver: read pending rows in batches, check eligibility and decide the mode again from the
   contact's flags now, render, hand to the transport, and mark the row `sent` as soon as the
   transport accepted it. After a kill -9, a rerun sends exactly the rows not yet `sent`, so
   at most the messages in flight at the kill (≤ concurrency) go twice.

A recipient whose render or delivery fails is marked `failed` with its reason and the send
goes on. Between batches the sender reads the campaign's status, so `campaign cancel` from
another process stops it after the messages in flight. The run always leaves a final status:
`sent` (every recipient has an outcome; failures counted), `failed` (stopped with recipients
pending, or nobody could be sent to), `cancelled`; a campaign with no eligible recipient yet
goes back to `draft`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clearpixel.context import Context
from clearpixel.deliverability import envelope as deliverability
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.policy import MessageKind
from clearpixel.domain.progress import Progress
from clearpixel.sending import lease
from clearpixel.sending.eligibility import eligibility, mode_for, record_recipients
from clearpixel.sending.render import Renderer
from clearpixel.sending.transports import DeliveryError, RateLimiter, Session, Transport
from clearpixel.store import Tx
from clearpixel.store import campaigns as campaign_store
from clearpixel.store import sends as send_store
from clearpixel.store.campaigns import Campaign
from clearpixel.store.contacts import Contact, set_cooldown

Outgoing = tuple[int, Contact, str, int, bytes, str, str]  # send id, contact, mode, purposes,
# data, message id, envelope recipient
CHECK_EVERY = 100  # rows between two reads of the campaign's status (cancel)


@dataclass
class SendReport:
    campaign: Campaign
    recorded: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    status: str = ""
    status_detail: str | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)  # (email, reason), first ones
    links_published: int | None = None  # put where tracking nodes read them (None: no NATS)


@dataclass(frozen=True, slots=True)
class SendOptions:
    """How fast a send goes: messages per second (None: as fast as the transport takes them),
    parallel sessions, and the inactivity cut-off in days (None: none). Checked when made."""

    rate: float | None = None
    concurrency: int = 4
    suppress_inactive_days: int | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ClearpixelError("--concurrency must be at least 1")
        if self.rate is not None and self.rate <= 0:
            raise ClearpixelError("--rate must be positive")
        if self.suppress_inactive_days is not None and self.suppress_inactive_days < 1:
            raise ClearpixelError("--suppress-inactive must be at least 1 day")


def send(
    ctx: Context,
    campaign: Campaign,
    renderer: Renderer,
    transport: Transport,
    options: SendOptions,
    *,
    progress: Progress | None = None,
) -> SendReport:
    """Record the recipients, then deliver every pending message; see the module docstring.

    Effects: `sends` rows; campaign status `sending`, then its final status; for consent
    requests, each recipient's `consent_cooldown_until` once the request is sent. Raises
    ClearpixelError when the run stopped on an error that is not one recipient's (the
    campaign is then `failed`, and `campaign send` resumes it); SendBusy, having done
    nothing, while another process sends it (`lease.py`)."""
    holder = lease.holder_name()
    lease.take(ctx, campaign.id, holder)
    try:
        return _send(ctx, campaign, renderer, transport, options, holder, progress)
    finally:
        lease.release(ctx, campaign.id, holder)


def _send(
    ctx: Context,
    campaign: Campaign,
    renderer: Renderer,
    transport: Transport,
    options: SendOptions,
    holder: str,
    progress: Progress | None,
) -> SendReport:
    """`send` once this process holds the campaign's lease (`holder`)."""
    report = SendReport(campaign)
    skipped: Counter[str] = Counter()
    with ctx.db.begin() as tx:
        campaign_store.set_status(tx, campaign.id, campaign_store.SENDING)
    if campaign.status != campaign_store.SENT:
        report.recorded = record_recipients(
            ctx, campaign, options.suppress_inactive_days, skipped, now=ctx.now()
        )
    stop: list[Exception] = []
    cancelled = False
    try:
        cancelled = _run(
            lambda: _deliver(
                ctx,
                campaign,
                renderer,
                transport,
                options.rate,
                options.concurrency,
                report,
                skipped,
                progress,
                holder,
            )
        )
    except lease.SendBusy:
        raise  # another sender took over: its run ends the campaign, not this one
    except Exception as exc:
        stop.append(exc)
    report.skipped_by_reason = dict(skipped.most_common())
    _finish(ctx, report, cancelled=cancelled, error=stop[0] if stop else None)
    if stop:
        raise ClearpixelError(
            f"the send stopped: {stop[0]}; campaign {campaign.id} is failed, with "
            f"{report.by_status.get(send_store.PENDING, 0)} recipient(s) pending: "
            "`campaign send` resumes it"
        ) from stop[0]
    return report


def _finish(ctx: Context, report: SendReport, *, cancelled: bool, error: Exception | None) -> None:
    """The campaign's final status, from its send rows."""
    campaign_id = report.campaign.id
    with ctx.db.begin() as tx:
        report.by_status = send_store.count_by_status(tx, campaign_id)
        pending = report.by_status.get(send_store.PENDING, 0)
        sent = report.by_status.get(send_store.SENT, 0)
        failed = report.by_status.get(send_store.FAILED, 0)
        detail: str | None
        if not report.by_status:
            status, detail = campaign_store.DRAFT, "no eligible recipient yet"
        elif pending and error is not None:
            status, detail = campaign_store.FAILED, f"stopped: {error}"[:2000]
        elif pending and cancelled:
            status, detail = campaign_store.CANCELLED, f"cancelled with {pending} pending"
        elif pending:
            status = campaign_store.FAILED
            detail = (
                f"{pending} message(s) deferred by the server (temporary failure); "
                "`campaign send` tries them again"
            )
        elif failed and not sent:
            status, detail = campaign_store.FAILED, f"every recipient failed ({failed})"
        else:
            status = campaign_store.SENT
            detail = f"{failed} recipient(s) failed" if failed else None
        if cancelled and status != campaign_store.SENT:
            campaign_store.set_status(tx, campaign_id, status, detail=detail)
        else:
            campaign_store.set_status(
                tx,
                campaign_id,
                status,
                detail=detail,
                only_from=(campaign_store.SENDING, campaign_store.CANCELLED),
            )
        report.status, report.status_detail = status, detail
        report.failures = send_store.failures(tx, campaign_id, limit=10)


async def _deliver(
    ctx: Context,
    campaign: Campaign,
    renderer: Renderer,
    transport: Transport,
    rate: float | None,
    concurrency: int,
    report: SendReport,
    skipped: Counter[str],
    progress: Progress | None,
    holder: str,
) -> bool:
    """Step 2: render pending rows and send them with `concurrency` sessions, renewing the
    send lease meanwhile. Returns whether the campaign was cancelled meanwhile."""
    kind = MessageKind(campaign.kind)
    with ctx.db.connect() as conn:
        total = send_store.count_by_status(conn, campaign.id).get(send_store.PENDING, 0)
    queue: asyncio.Queue[Outgoing | None] = asyncio.Queue(maxsize=concurrency * 2)
    limiter = RateLimiter(rate)
    done = 0
    if progress:
        progress(0, total)
    envelope = deliverability.Envelope.of(
        ctx,
        campaign_id=campaign.id,
        public_id=campaign.public_id,
        kind=campaign.kind,
        from_address=renderer.layout.envelope_from,
    )
    downgrade = renderer.layout.seven_bit
    failure: list[Exception] = []

    async def worker() -> None:
        # A worker never dies early: after an unexpected error it keeps taking items (and
        # drops them, they stay pending) so the producer is never stuck on a full queue.
        nonlocal done
        session: Session | None = None
        try:
            session = await transport.session()
        except Exception as exc:
            failure.append(exc)
        while (item := await queue.get()) is not None:
            if failure or session is None:
                continue
            try:
                await _deliver_one(session, item)
            except Exception as exc:
                failure.append(exc)
                continue
            done += 1
            if progress:
                progress(done, total)
        if session is not None:
            with contextlib.suppress(Exception):
                await session.close()

    async def _deliver_one(session: Session, item: Outgoing) -> None:
        send_id, contact, mode, purposes, data, message_id, recipient = item
        await limiter.wait()
        try:
            await session.send(
                envelope.sender(contact.id),
                recipient,
                envelope.headers + data,
                key=str(contact.id),
                downgrade=downgrade,
            )
        except DeliveryError as exc:
            with ctx.db.begin() as tx:
                send_store.mark_failed(tx, send_id, str(exc), permanent=exc.permanent)
                deliverability.record_send_failure(
                    ctx,
                    tx,
                    campaign_id=campaign.id,
                    contact=contact,
                    stage=exc.stage,
                    code=exc.code,
                    reply=str(exc),
                    now=ctx.now(),
                )
            if exc.permanent:
                report.failed += 1
            else:
                report.deferred += 1
            return
        with ctx.db.begin() as tx:
            _mark_sent(ctx, tx, kind, send_id, contact, mode, purposes, message_id, now=ctx.now())
        report.sent += 1

    def cancelled() -> bool:
        with ctx.db.connect() as conn:
            return campaign_store.get_status(conn, campaign.id) == campaign_store.CANCELLED

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    keeper = asyncio.create_task(lease.keep(ctx, campaign.id, holder, failure))
    stopped = False
    try:
        after = 0
        while not failure and not (stopped := cancelled()):
            with ctx.db.connect() as conn:
                batch = send_store.pending_batch(conn, campaign.id, after=after)
            if not batch:
                break
            after = batch[-1].id
            suppressed = deliverability.suppressed_ids(ctx, [row.contact for row in batch])
            for count, row in enumerate(batch, start=1):
                if failure or (not count % CHECK_EVERY and (stopped := cancelled())):
                    break
                now = ctx.now()
                if row.contact.id in suppressed:
                    reason: str | None = deliverability.SUPPRESSED
                else:
                    reason = eligibility(row.contact, kind, now=now)
                if reason:
                    with ctx.db.begin() as tx:
                        send_store.mark_skipped(tx, row.id, reason)
                    skipped[reason] += 1
                    report.skipped += 1
                    done += 1
                    continue
                mode, purposes = mode_for(ctx, kind, row.contact.privacy_flags)
                try:
                    rendered = renderer.render(row.contact, mode, purposes=purposes, now=now)
                except ClearpixelError as exc:
                    with ctx.db.begin() as tx:
                        send_store.mark_failed(tx, row.id, str(exc), permanent=True)
                    report.failed += 1
                    done += 1
                    continue
                await queue.put(
                    (
                        row.id,
                        row.contact,
                        mode.value,
                        purposes,
                        rendered.data,
                        rendered.message_id,
                        rendered.to.envelope,
                    )
                )
            if stopped:
                break
    finally:
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
    if failure:
        raise failure[0]
    return stopped


def _run(make: Callable[[], Coroutine[Any, Any, bool]]) -> bool:
    """Run a coroutine to completion from synchronous code, also when the calling thread
    already runs an event loop (then in a thread of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    results: list[bool] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(asyncio.run(make()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="clearpixel-send")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]


def _mark_sent(
    ctx: Context,
    tx: Tx,
    kind: MessageKind,
    send_id: int,
    contact: Contact,
    mode: str,
    purposes: int,
    message_id: str,
    *,
    now: datetime,
) -> None:
    """Record that the transport accepted the message at `now`; a consent request also starts
    the contact's cool-down (R8)."""
    send_store.mark_sent(tx, send_id, message_id=message_id, mode=mode, purposes=purposes, now=now)
    if kind is MessageKind.CONSENT_REQUEST:
        # An unanswered request counts like a refusal for the cool-down (R8).
        set_cooldown(tx, [contact.id], now + ctx.cooldown)
