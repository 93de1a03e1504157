"""Named queries for data-subject requests: everything stored about one address, table by
table, across every list (what `subject export` gathers and `subject erase` deletes)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearpixel.store.contacts import Contact, _contact
from clearpixel.store.db import Tx, wipe_after_commit
from clearpixel.store.schema import (
    audience_lists,
    bounce_events,
    campaign_links,
    campaigns,
    consent_ledger,
    consent_responses,
    contacts,
    ledger_personal,
    pending_signups,
    personal_events,
    sends,
    suppression_log,
    suppressions,
    webhook_attempts,
    webhook_deliveries,
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


def erase_personal_data(
    tx: Tx, contact_ids: Sequence[int], address: str, *, keep_openings: Sequence[int]
) -> dict[str, int]:
    """Delete what is stored about an erased address: the openings of its ledger entries
    (but `keep_openings`, the erasure entries, which hold none), its personal events, the
    personal fields of its sends (error text, Message-ID) and bounce events (address,
    diagnostic, evidence), its pending signups, its suppression entries and their log, the
    webhook deliveries that carry it, and its contacts (memberships and attributes). Rows
    that feed counts (sends, bounce events, consent responses) stay, holding no address.
    Returns rows affected per table. On SQLite the freed pages are wiped after commit."""
    ids = list(contact_ids)
    done: dict[str, int] = {}
    seqs = sa.select(consent_ledger.c.seq).where(consent_ledger.c.contact_id.in_(ids))
    done["ledger_personal"] = tx.execute(
        ledger_personal.delete().where(
            ledger_personal.c.seq.in_(seqs), ledger_personal.c.seq.not_in(list(keep_openings))
        )
    ).rowcount
    done["personal_events"] = tx.execute(
        personal_events.delete().where(personal_events.c.contact_id.in_(ids))
    ).rowcount
    done["sends"] = tx.execute(
        sends.update().where(sends.c.contact_id.in_(ids)).values(error=None, message_id=None)
    ).rowcount
    done["bounce_events"] = tx.execute(
        bounce_events.update()
        .where(sa.or_(bounce_events.c.email == address, bounce_events.c.contact_id.in_(ids)))
        .values(email="", diagnostic="", evidence={})
    ).rowcount
    done["pending_signups"] = tx.execute(
        pending_signups.delete().where(pending_signups.c.email == address)
    ).rowcount
    done["suppressions"] = tx.execute(
        suppressions.delete().where(suppressions.c.address == address)
    ).rowcount
    tx.execute(suppression_log.delete().where(suppression_log.c.address == address))
    carrying = [
        row.id
        for row in tx.execute(
            sa.select(webhook_deliveries.c.id, webhook_deliveries.c.payload).where(
                sa.or_(
                    webhook_deliveries.c.payload.contains(address),
                    webhook_deliveries.c.payload.contains(json.dumps(address)[1:-1]),
                )
            )
        )
    ]
    if carrying:
        tx.execute(webhook_attempts.delete().where(webhook_attempts.c.delivery_id.in_(carrying)))
        tx.execute(webhook_deliveries.delete().where(webhook_deliveries.c.id.in_(carrying)))
    done["webhook_deliveries"] = len(carrying)
    done["contacts"] = tx.execute(contacts.delete().where(contacts.c.id.in_(ids))).rowcount
    wipe_after_commit(tx)
    return done


def erasure_record(tx: Tx, keys: Sequence[str]) -> tuple[datetime, dict[str, Any]] | None:
    """When an address whose keyed hash is one of `keys` was erased, and the entry's
    evidence (None when it never was)."""
    row = tx.execute(
        sa.select(suppressions.c.since, suppressions.c.evidence)
        .where(suppressions.c.address.in_(list(keys)))
        .order_by(suppressions.c.since)
    ).first()
    return None if row is None else (row.since, dict(row.evidence or {}))


def erased_keys(tx: Tx, prefix: str) -> set[str]:
    """Every keyed hash of an erased address on the suppression list."""
    return {
        str(value)
        for value in tx.execute(
            sa.select(suppressions.c.address).where(suppressions.c.address.startswith(prefix))
        ).scalars()
    }


def forget_erasure_reasons_before(tx: Tx, before: datetime) -> int:
    """The openings (reason text) of erasure entries made before `before`: past the
    proof-after-erasure window only the entries' non-personal fields stay. Returns how many
    went."""
    old = sa.select(consent_ledger.c.seq).where(
        consent_ledger.c.method == "erasure", consent_ledger.c.at < before
    )
    gone = tx.execute(ledger_personal.delete().where(ledger_personal.c.seq.in_(old))).rowcount
    if gone:
        wipe_after_commit(tx)
    return int(gone)
