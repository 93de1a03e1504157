"""Named queries for data-subject requests: everything stored about one address, table by
table, across every list (what `subject export` gathers)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from clearpixel.store.contacts import Contact, _contact
from clearpixel.store.db import Tx
from clearpixel.store.schema import (
    audience_lists,
    campaign_links,
    campaigns,
    consent_responses,
    contacts,
    personal_events,
    sends,
)


def contacts_with_address(tx: Tx, email: str) -> list[tuple[str, Contact]]:
    """(list name, contact) for every list that holds `email` (already normalised)."""
    rows = tx.execute(
        sa.select(contacts, audience_lists.c.name.label("list_name"))
        .join(audience_lists, audience_lists.c.id == contacts.c.list_id)
        .where(contacts.c.email == email)
        .order_by(contacts.c.id)
    )
    return [(str(row.list_name), _contact(row)) for row in rows]


def sends_of(tx: Tx, contact_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The contacts' send rows with their campaign's name, oldest first."""
    rows = tx.execute(
        sa.select(
            sends.c.contact_id,
            campaigns.c.name.label("campaign"),
            campaigns.c.public_id,
            sends.c.kind,
            sends.c.mode,
            sends.c.status,
            sends.c.created_at,
            sends.c.sent_at,
        )
        .join(campaigns, campaigns.c.id == sends.c.campaign_id)
        .where(sends.c.contact_id.in_(list(contact_ids)))
        .order_by(sends.c.id)
    )
    return [dict(row._mapping) for row in rows]


def personal_events_of(tx: Tx, contact_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The contacts' personal opens and clicks (with the clicked URL and the verdict), oldest
    first."""
    rows = tx.execute(
        sa.select(
            personal_events.c.contact_id,
            campaigns.c.name.label("campaign"),
            personal_events.c.event,
            campaign_links.c.url.label("link"),
            personal_events.c.at,
            personal_events.c.verdict,
        )
        .join(campaigns, campaigns.c.id == personal_events.c.campaign_id)
        .outerjoin(
            campaign_links,
            sa.and_(
                campaign_links.c.campaign_id == personal_events.c.campaign_id,
                campaign_links.c.link_id == personal_events.c.link_id,
            ),
        )
        .where(personal_events.c.contact_id.in_(list(contact_ids)))
        .order_by(personal_events.c.id)
    )
    return [dict(row._mapping) for row in rows]


def consent_requests_of(tx: Tx, contact_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The consent pages the contacts were sent, saw or answered."""
    rows = tx.execute(
        sa.select(
            consent_responses.c.contact_id,
            campaigns.c.name.label("campaign"),
            consent_responses.c.viewed_at,
            consent_responses.c.outcome,
            consent_responses.c.decided_at,
        )
        .join(campaigns, campaigns.c.id == consent_responses.c.campaign_id)
        .where(consent_responses.c.contact_id.in_(list(contact_ids)))
        .order_by(consent_responses.c.campaign_id)
    )
    return [dict(row._mapping) for row in rows]
