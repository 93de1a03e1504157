"""Scheduled sends: a draft is given a time (stored in UTC), and `serve` starts it when the
time comes. Of several serving processes on one database, exactly one claims each campaign
(`store.campaigns.claim`: one UPDATE from `scheduled` to `sending`). Nothing is checked for
good when a campaign is scheduled: the template's checks, suppression, eligibility and
consent are those of the moment it starts, in `start_claimed`, and a campaign whose checks
fail then ends `failed` with the reason, before any message is recorded or sent.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from clearpixel.context import Context
from clearpixel.domain.errors import N_, ClearpixelError
from clearpixel.domain.progress import Progress
from clearpixel.i18n import format_planned
from clearpixel.sending import delivery
from clearpixel.sending.campaigns import get_campaign, publish_links_for_nodes, renderer_for
from clearpixel.sending.delivery import SendReport
from clearpixel.sending.transports import Transport, transport_from
from clearpixel.store import campaigns as campaign_store
from clearpixel.store.campaigns import Campaign

log = logging.getLogger(__name__)


def parse_time(text: str, zone: ZoneInfo) -> datetime:
    """`2026-12-01T09:00+01:00` (or with a space, seconds, `Z`) as an aware datetime; a time
    written without its offset is read in `zone`. Raises ClearpixelError naming the text."""
    cleaned = text.strip().replace(" ", "T", 1)
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        at = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ClearpixelError(
            N_(
                "%(text)r is not a date and time: write it like 2026-12-01T09:00+01:00 "
                "(without an offset it is read in %(zone)s)"
            ),
            text=text,
            zone=zone.key,
        ) from None
    return at.replace(tzinfo=zone) if at.tzinfo is None else at


def shown(at: datetime, zone: ZoneInfo) -> str:
    """A time for the CLI and the refusals: in the installation's zone, named, with UTC
    beside it (`i18n.format_planned`, ISO-like)."""
    return format_planned(at, zone)


def schedule_campaign(ctx: Context, ref: str | int, at: datetime) -> Campaign:
    """Schedule a draft (or move a scheduled campaign) for `at`, which must be in the
    future. Effects: the campaign's status `scheduled` and `scheduled_at` (UTC). Raises
    ClearpixelError naming the problem; nothing changes then."""
    if at.tzinfo is None:
        raise ClearpixelError(N_("the time needs its offset or zone, e.g. 2026-12-01T09:00+01:00"))
    now = ctx.now()
    zone = ctx.settings.zone
    if at <= now:
        raise ClearpixelError(
            N_("%(at)s is in the past (it is now %(now)s): choose a later time, or send it now"),
            at=shown(at, zone),
            now=shown(now, zone),
        )
    campaign = get_campaign(ctx, ref)
    with ctx.db.begin() as tx:
        if campaign_store.set_schedule(
            tx, campaign.id, at, detail=f"starts at {at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        ):
            return campaign_store.get_campaign(tx, campaign.id)
    raise ClearpixelError(
        N_("campaign %(id)s is %(status)s: only a draft can be scheduled"),
        id=campaign.id,
        status=campaign.status,
    )


def unschedule_campaign(ctx: Context, ref: str | int) -> Campaign:
    """A scheduled campaign becomes a draft again (to edit it, or send it now). Raises
    ClearpixelError when it is not scheduled (any more: it may have started)."""
    campaign = get_campaign(ctx, ref)
    with ctx.db.begin() as tx:
        if campaign_store.clear_schedule(tx, campaign.id):
            return campaign_store.get_campaign(tx, campaign.id)
        now = campaign_store.get_campaign(tx, campaign.id)
    raise ClearpixelError(
        N_("campaign %(id)s is %(status)s, not scheduled"), id=campaign.id, status=now.status
    )


def claim_due(ctx: Context, now: datetime) -> list[Campaign]:
    """Claim every scheduled campaign whose time is at or before `now` that no other process
    claimed first. Effects: each claimed campaign's status becomes `sending`; the caller
    must then run `start_claimed` for each."""
    with ctx.db.connect() as conn:
        due = campaign_store.due_ids(conn, now)
    claimed = []
    for campaign_id in due:
        with ctx.db.begin() as tx:
            won = campaign_store.claim(
                tx, campaign_id, now, detail=f"started by the schedule at {now:%Y-%m-%d %H:%M} UTC"
            )
            if won:
                claimed.append(campaign_store.get_campaign(tx, campaign_id))
    return claimed


def default_transport(ctx: Context, campaign: Campaign) -> Transport:
    """Where a send started by the server goes: SMTP when CLEARPIXEL_SMTP_URL is set, else
    the outbox folder `DATA_DIR/outbox/<public id>`."""
    return transport_from(
        outbox=None,
        smtp=ctx.settings.smtp_url or None,
        default_outbox=ctx.settings.data_dir / "outbox" / campaign.public_id,
    )


def start_claimed(
    ctx: Context,
    campaign: Campaign,
    transport: Transport,
    *,
    progress: Progress | None = None,
) -> SendReport | None:
    """Send a campaign this process claimed: its template is compiled and proved again now,
    its links published for tracking nodes (with NATS), and suppression, eligibility and
    consent are read as each batch goes out (`delivery.send`). A check that fails before the
    first message ends the campaign `failed` with the reason and returns None: nothing was
    recorded or sent."""
    try:
        renderer = renderer_for(ctx, campaign)
        published = publish_links_for_nodes(ctx, campaign.id)
    except Exception as exc:  # any refusal or broken setting: the campaign must not hang
        if not isinstance(exc, ClearpixelError):
            log.exception("scheduled campaign %s could not start", campaign.id)
        fail_claimed(ctx, campaign, str(exc))
        return None
    report = delivery.send(
        ctx, campaign, renderer, transport, delivery.SendOptions(), progress=progress
    )
    report.links_published = published
    return report


def fail_claimed(ctx: Context, campaign: Campaign, reason: str) -> None:
    """A claimed campaign that could not start: `failed`, with the reason, before anything
    was recorded or sent."""
    with ctx.db.begin() as tx:
        campaign_store.set_status(
            tx,
            campaign.id,
            campaign_store.FAILED,
            detail=f"the scheduled send did not start: {reason}"[:2000],
            only_from=(campaign_store.SENDING,),
        )
