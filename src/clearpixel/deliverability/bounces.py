"""Recording bounces and complaints: one normalised event in, the event stored, the
suppression rules applied and the webhook events queued, in one transaction.

Rules (`domain.bounces.suppression_for`): a complaint and a hard bounce suppress the address
at once; soft bounces once `CLEARPIXEL_SOFT_BOUNCE_LIMIT` of them fall within
`CLEARPIXEL_SOFT_BOUNCE_WINDOW_DAYS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from clearpixel.context import Context
from clearpixel.deliverability.suppression import suppress_in
from clearpixel.domain.bounces import (
    BounceEvent,
    BounceKind,
    SoftBouncePolicy,
    SuppressionReason,
    normalise_address,
    suppression_for,
)
from clearpixel.domain.webhooks import EventType
from clearpixel.store import Tx
from clearpixel.store import bounces as store
from clearpixel.store import webhooks as webhook_store


def reported_time(ctx: Context, value: object) -> datetime:
    """When a provider's report says the bounce or complaint happened (so a redelivered
    report names the same event); now when it says nothing usable or a time still to come."""
    now = ctx.now()
    try:
        at = datetime.fromisoformat(str(value or ""))
    except ValueError:
        return now
    if at.tzinfo is None or at > now:
        return now
    return at.astimezone(UTC)


def soft_policy(ctx: Context) -> SoftBouncePolicy:
    settings = ctx.settings
    return SoftBouncePolicy(
        limit=settings.soft_bounce_limit,
        window=timedelta(days=settings.soft_bounce_window_days),
    )


def record_in(tx: Tx, event: BounceEvent, *, policy: SoftBouncePolicy) -> SuppressionReason | None:
    """Inside the caller's transaction: store `event`, queue `email.bounced` or
    `email.complained`, and suppress the address when the rules say so (which queues
    `address.suppressed`). Returns the reason it was suppressed for now, if it was."""
    email = normalise_address(event.email)
    store.insert_bounce(
        tx,
        at=event.at,
        email=email,
        kind=event.kind.value,
        source=event.source,
        status=event.status,
        diagnostic=event.diagnostic,
        campaign_id=event.campaign_id,
        contact_id=event.contact_id,
        evidence=event.evidence,
    )
    complaint = event.kind is BounceKind.COMPLAINT
    webhook_store.enqueue(
        tx,
        EventType.COMPLAINED if complaint else EventType.BOUNCED,
        {
            "email": email,
            "kind": event.kind.value,
            "status": event.status,
            "diagnostic": event.diagnostic,
            "source": event.source,
            "campaign_id": event.campaign_id,
            "contact_id": event.contact_id,
        },
        now=event.at,
    )
    soft = (
        store.count_since(tx, email, BounceKind.SOFT.value, policy.since(event.at))
        if event.kind is BounceKind.SOFT
        else 0
    )
    reason = suppression_for(event.kind, soft_bounces_in_window=soft, policy=policy)
    if reason is None:
        return None
    evidence = {
        "source": event.source,
        "status": event.status,
        "diagnostic": event.diagnostic[:500],
        **({"campaign_id": str(event.campaign_id)} if event.campaign_id else {}),
        **({"soft_bounces": str(soft)} if soft else {}),
    }
    added = suppress_in(
        tx, [email], reason=reason, actor=f"bounce:{event.source}", evidence=evidence, now=event.at
    )
    return reason if added else None


def record(ctx: Context, events: Sequence[BounceEvent]) -> list[SuppressionReason | None]:
    """Record events in one transaction; see `record_in`."""
    policy = soft_policy(ctx)
    with ctx.db.begin() as tx:
        return [record_in(tx, event, policy=policy) for event in events]


def record_once(ctx: Context, events: Sequence[BounceEvent]) -> int:
    """Like `record`, in one transaction, but an event already stored (same address, kind,
    source and time) is skipped: for a relay that delivers at least once and stamps each event
    with its own time (SES through SNS retries). Returns how many events were new."""
    policy = soft_policy(ctx)
    new = 0
    with ctx.db.begin() as tx:
        for event in events:
            email = normalise_address(event.email)
            kind = event.kind.value
            if store.already_recorded(tx, email=email, kind=kind, source=event.source, at=event.at):
                continue
            record_in(tx, event, policy=policy)
            new += 1
    return new
