"""Who gets a campaign, and in which mode: the rules that say whether a contact may get a
message of a kind now (`eligibility`), the tracking mode and purposes its flags give
(`mode_for`), and step 1 of a send, which records a `pending` row per eligible recipient
(`record_recipients`). Delivery asks the same two questions again for each row before it
sends (`delivery.py`)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from clearpixel.context import Context
from clearpixel.deliverability import envelope as deliverability
from clearpixel.domain.flags import has_open_tracking
from clearpixel.domain.policy import MessageKind, TrackingMode, decide
from clearpixel.store import sends as send_store
from clearpixel.store.campaigns import Campaign
from clearpixel.store.contacts import SUBSCRIBED, Contact, iter_contacts
from clearpixel.store.db import as_utc


def record_recipients(
    ctx: Context,
    campaign: Campaign,
    suppress_inactive_days: int | None,
    skipped: Counter[str] | None = None,
    *,
    now: datetime,
    batch: int = 1000,
) -> int:
    """Step 1: a pending row per contact eligible at `now`, streamed from the list in
    batches; the others counted in `skipped` by reason."""
    kind = MessageKind(campaign.kind)
    inactive_before = (
        now.date() - timedelta(days=suppress_inactive_days) if suppress_inactive_days else None
    )
    added = 0
    rows: list[dict[str, object]] = []
    inactive: list[str] = []
    with ctx.db.begin() as tx:
        for contact in iter_contacts(tx, campaign.list_id):
            reason = eligibility(contact, kind, now=now, inactive_before=inactive_before)
            if reason:
                if skipped is not None:
                    skipped[reason] += 1
                if reason == "inactive":
                    inactive.append(contact.email)
                continue
            mode, purposes = mode_for(ctx, kind, contact.privacy_flags)
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
        if inactive and suppress_inactive_days:
            deliverability.suppress_inactive(
                tx, inactive, days=suppress_inactive_days, campaign_id=campaign.id, now=now
            )
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
        if until is not None and as_utc(until) > now:
            return "in consent-request cool-down"
    if inactive_before is not None:
        seen = [d for d in (contact.last_open_date, contact.last_click_date) if d is not None]
        if seen and max(seen) < inactive_before:
            return "inactive"
    return None


def mode_for(ctx: Context, kind: MessageKind, flags: int | None) -> tuple[TrackingMode, int]:
    """The tracking mode for these flags now, and the purposes a personal pixel names."""
    mode = decide(ctx.policy, kind, flags)
    purposes = (flags or 0) & ctx.purposes.all_bits if mode is TrackingMode.PERSONAL else 0
    return mode, purposes
