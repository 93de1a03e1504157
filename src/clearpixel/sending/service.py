"""Campaigns: create, list, preview, send.

Sending is two steps, both safe to interrupt at any point and to run again:
1. record: stream the list and insert one `pending` send row per eligible recipient (mode
   and purposes from the flags at that moment; a contact that already has a row keeps it);
2. deliver: read pending rows in batches, check eligibility and decide the mode again from the
   contact's flags now, render, hand to the transport, and mark the row `sent` as soon as the
   transport accepted it. After a kill -9, a rerun sends exactly the rows not yet `sent`, so
   at most the messages in flight at the kill (≤ concurrency) go twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.flags import has_open_tracking
from clearpixel.domain.policy import MessageKind, TrackingMode, decide
from clearpixel.sending.compile import Compiled, compile_campaign
from clearpixel.sending.mime import DkimKey, address_header
from clearpixel.sending.render import CampaignInfo, Renderer
from clearpixel.sending.transports import DeliveryError, RateLimiter, Session, Transport
from clearpixel.store import Tx
from clearpixel.store import campaigns as campaign_store
from clearpixel.store import sends as send_store
from clearpixel.store.campaigns import Campaign
from clearpixel.store.contacts import SUBSCRIBED, Contact, find_contact, iter_contacts, set_cooldown
from clearpixel.store.lists import get_list

Progress = Callable[[int, int], None]  # (done, total)
Item = tuple[int, Contact, str, int, bytes, str]  # send id, contact, mode, purposes, data, msg id


@dataclass
class SendReport:
    campaign: Campaign
    recorded: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


def create_campaign(
    ctx: Context,
    *,
    list_name: str,
    kind: str,
    subject: str,
    html: str,
    text: str | None = None,
    from_addr: str | None = None,
    name: str | None = None,
) -> Campaign:
    """Check the template (R1/R3), store the campaign and register its links (R13)."""
    message_kind = _kind(kind)
    sender = from_addr or ctx.settings.from_address
    address_header("From", sender)
    if not subject.strip():
        raise ClearpixelError("a campaign needs a subject")
    compiled = compile_campaign(kind=message_kind, subject=subject, html=html, text=text)
    with ctx.db.begin() as tx:
        audience = get_list(tx, list_name)
        campaign = campaign_store.create_campaign(
            tx,
            public_id=secrets.token_hex(8),
            list_id=audience.id,
            name=(name or subject)[:200],
            kind=message_kind.value,
            subject=subject,
            html=html,
            text=text,
            from_addr=sender,
            now=ctx.now(),
        )
        campaign_store.register_links(tx, campaign.id, compiled.links)
    return campaign


def all_campaigns(ctx: Context) -> list[Campaign]:
    with ctx.db.connect() as conn:
        return campaign_store.all_campaigns(conn)


def get_campaign(ctx: Context, ref: str | int) -> Campaign:
    with ctx.db.connect() as conn:
        return _resolve(conn, ref)


def sent_by_mode(ctx: Context, campaign_id: int) -> dict[str, int]:
    with ctx.db.connect() as conn:
        return send_store.count_by_mode(conn, campaign_id)


def renderer_for(ctx: Context, campaign: Campaign) -> Renderer:
    """Compile the campaign once (its links must be those registered) and build its renderer."""
    compiled = _compile(campaign)
    with ctx.db.begin() as tx:
        campaign_store.register_links(tx, campaign.id, compiled.links)
    settings = ctx.settings
    dkim_key = None
    if settings.dkim_key_file and settings.dkim_selector and settings.dkim_domain:
        dkim_key = DkimKey.load(
            selector=settings.dkim_selector,
            domain=settings.dkim_domain,
            key_file=settings.dkim_key_file,
        )
    return Renderer(
        CampaignInfo(campaign.id, campaign.public_id, campaign.from_addr, settings.organisation),
        compiled,
        signer=ctx.signer,
        base_url=settings.base_url,
        unsubscribe_mailto=settings.unsubscribe_mailto,
        consent_link_days=settings.consent_link_days,
        dkim_key=dkim_key,
    )


def preview(ctx: Context, ref: str | int, email: str) -> bytes:
    """The exact message `email` (a contact of the campaign's list) would get now."""
    campaign = get_campaign(ctx, ref)
    with ctx.db.connect() as conn:
        contact = find_contact(conn, campaign.list_id, email.strip().lower()) or find_contact(
            conn, campaign.list_id, email.strip()
        )
    if contact is None:
        raise ClearpixelError(f"{email!r} is not a contact of list {campaign.list_name!r}")
    renderer = renderer_for(ctx, campaign)
    mode, purposes = _mode(ctx, _kind(campaign.kind), contact.privacy_flags)
    return renderer.render(contact, mode, purposes=purposes, now=ctx.now()).data


def send_campaign(
    ctx: Context,
    ref: str | int,
    transport: Transport,
    *,
    rate: float | None = None,
    concurrency: int = 4,
    suppress_inactive_days: int | None = None,
    progress: Progress | None = None,
) -> SendReport:
    """Record the recipients, then deliver every pending message; see the module docstring.

    Effects: `sends` rows; campaign status `sending`, then `sent` when nothing is pending;
    for consent requests, each recipient's `consent_cooldown_until` once the request is sent.
    """
    if concurrency < 1:
        raise ClearpixelError("--concurrency must be at least 1")
    if rate is not None and rate <= 0:
        raise ClearpixelError("--rate must be positive")
    if suppress_inactive_days is not None and suppress_inactive_days < 1:
        raise ClearpixelError("--suppress-inactive must be at least 1 day")
    campaign = get_campaign(ctx, ref)
    renderer = renderer_for(ctx, campaign)
    report = SendReport(campaign)
    if campaign.status != campaign_store.SENT:
        with ctx.db.begin() as tx:
            campaign_store.set_status(tx, campaign.id, campaign_store.SENDING)
        report.recorded = record_recipients(ctx, campaign, suppress_inactive_days)
    _run(lambda: _deliver(ctx, campaign, renderer, transport, rate, concurrency, report, progress))
    with ctx.db.begin() as tx:
        report.by_status = send_store.count_by_status(tx, campaign.id)
        if report.by_status and not report.by_status.get(send_store.PENDING):
            # Complete: a later run only retries rows, it adds no recipient. A campaign that
            # found no recipient at all stays open for a later run.
            campaign_store.set_status(tx, campaign.id, campaign_store.SENT)
    return report


def record_recipients(
    ctx: Context, campaign: Campaign, suppress_inactive_days: int | None, *, batch: int = 1000
) -> int:
    """Step 1: a pending row per eligible contact, streamed from the list in batches."""
    kind = _kind(campaign.kind)
    now = ctx.now()
    inactive_before = (
        now.date() - timedelta(days=suppress_inactive_days) if suppress_inactive_days else None
    )
    added = 0
    rows: list[dict[str, object]] = []
    with ctx.db.begin() as tx:
        for contact in iter_contacts(tx, campaign.list_id):
            if eligibility(contact, kind, now=now, inactive_before=inactive_before):
                continue
            mode, purposes = _mode(ctx, kind, contact.privacy_flags)
            rows.append(
                {
                    "campaign_id": campaign.id,
                    "contact_id": contact.id,
                    "kind": kind.value,
                    "mode": mode.value,
                    "purposes": purposes,
                }
            )
            if len(rows) >= batch:
                added += send_store.insert_pending(tx, rows, now=now)
                rows = []
        added += send_store.insert_pending(tx, rows, now=now)
    return added


def eligibility(
    contact: Contact, kind: MessageKind, *, now: datetime, inactive_before: date | None = None
) -> str | None:
    """Why `contact` must not get a message of `kind` now, or None when it may.

    Unsubscribed contacts get no marketing mail and no consent request. A consent request
    goes only to contacts without open-tracking consent and outside the cool-down (R8).
    `--suppress-inactive`: a contact is inactive when its last open and last click are both
    before the cut-off; a contact with neither date is kept, since without tracking consent
    nothing is known of its activity and silence must not count against it.
    """
    bulk = kind in (MessageKind.MARKETING, MessageKind.CONSENT_REQUEST)
    if bulk and contact.status != SUBSCRIBED:
        return "unsubscribed"
    if kind is MessageKind.CONSENT_REQUEST:
        if has_open_tracking(contact.privacy_flags):
            return "already consents"
        until = contact.consent_cooldown_until
        if until is not None and _aware(until) > now:
            return "in consent-request cool-down"
    if inactive_before is not None:
        seen = [d for d in (contact.last_open_date, contact.last_click_date) if d is not None]
        if seen and max(seen) < inactive_before:
            return "inactive"
    return None


async def _deliver(
    ctx: Context,
    campaign: Campaign,
    renderer: Renderer,
    transport: Transport,
    rate: float | None,
    concurrency: int,
    report: SendReport,
    progress: Progress | None,
) -> None:
    """Step 2: render pending rows and send them with `concurrency` sessions."""
    kind = _kind(campaign.kind)
    with ctx.db.connect() as conn:
        total = send_store.count_by_status(conn, campaign.id).get(send_store.PENDING, 0)
    queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=concurrency * 2)
    limiter = RateLimiter(rate)
    done = 0
    if progress:
        progress(0, total)
    envelope_from = parseaddr(campaign.from_addr)[1]
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

    async def _deliver_one(session: Session, item: Item) -> None:
        send_id, contact, mode, purposes, data, message_id = item
        await limiter.wait()
        try:
            await session.send(
                envelope_from, contact.email, data, key=str(contact.id), downgrade=downgrade
            )
        except DeliveryError as exc:
            with ctx.db.begin() as tx:
                send_store.mark_failed(tx, send_id, str(exc), permanent=exc.permanent)
            if exc.permanent:
                report.failed += 1
            else:
                report.deferred += 1
            return
        with ctx.db.begin() as tx:
            _mark_sent(ctx, tx, kind, send_id, contact, mode, purposes, message_id)
        report.sent += 1

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        after = 0
        while not failure:
            with ctx.db.connect() as conn:
                batch = send_store.pending_batch(conn, campaign.id, after=after)
            if not batch:
                break
            after = batch[-1].id
            for row in batch:
                now = ctx.now()
                reason = eligibility(row.contact, kind, now=now)
                if reason:
                    with ctx.db.begin() as tx:
                        send_store.mark_skipped(tx, row.id, reason)
                    report.skipped += 1
                    done += 1
                    continue
                mode, purposes = _mode(ctx, kind, row.contact.privacy_flags)
                rendered = renderer.render(row.contact, mode, purposes=purposes, now=now)
                await queue.put(
                    (row.id, row.contact, mode.value, purposes, rendered.data, rendered.message_id)
                )
                if failure:
                    break
    finally:
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    if failure:
        raise failure[0]


def _run(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to completion from synchronous code, also when the calling thread
    already runs an event loop (then in a thread of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(make())
        return
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(make())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="clearpixel-send")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def _mark_sent(
    ctx: Context,
    tx: Tx,
    kind: MessageKind,
    send_id: int,
    contact: Contact,
    mode: str,
    purposes: int,
    message_id: str,
) -> None:
    now = ctx.now()
    send_store.mark_sent(tx, send_id, message_id=message_id, mode=mode, purposes=purposes, now=now)
    if kind is MessageKind.CONSENT_REQUEST:
        # An unanswered request counts like a refusal for the cool-down (R8).
        set_cooldown(tx, [contact.id], now + ctx.cooldown)


def _mode(ctx: Context, kind: MessageKind, flags: int | None) -> tuple[TrackingMode, int]:
    mode = decide(ctx.policy, kind, flags)
    purposes = (flags or 0) & ctx.purposes.all_bits if mode is TrackingMode.PERSONAL else 0
    return mode, purposes


def _kind(kind: str) -> MessageKind:
    try:
        return MessageKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in MessageKind)
        raise ClearpixelError(f"unknown message kind {kind!r} (known: {known})") from None


def _resolve(tx: Tx, ref: str | int) -> Campaign:
    text = str(ref).strip()
    if text.isdigit():
        return campaign_store.get_campaign(tx, int(text))
    return campaign_store.get_campaign_by_public_id(tx, text)


def _compile(campaign: Campaign) -> Compiled:
    return compile_campaign(
        kind=_kind(campaign.kind), subject=campaign.subject, html=campaign.html, text=campaign.text
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
