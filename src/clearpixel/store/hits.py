"""Named queries for the hit path: registered links, the campaign/send/contact facts a batch
of hits needs (one query each), counters bumped with an upsert on both engines, drop counts,
ingested batch ids, last-open/click dates. The reads behind the campaign report are in
store/campaign_results.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from clearpixel.store.db import Tx, as_utc
from clearpixel.store.schema import (
    campaign_totals,
    campaigns,
    contacts,
    hit_counters,
    hit_drops,
    ingested_batches,
    personal_events,
    sends,
)

CHUNK = 1000


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _select_for_ids(
    tx: Tx,
    columns: Sequence[sa.ColumnElement[Any]],
    table: sa.Table,
    id_column: sa.ColumnElement[int],
    ids: Sequence[int],
    *where: sa.ColumnElement[bool],
) -> sa.Select[Any]:
    """SELECT columns FROM table WHERE id_column among `ids` (and `where`).

    On PostgreSQL the ids are one array parameter joined through `unnest`: a plan that is at
    worst a hash join, linear in the rows read, even with statistics that have not caught up
    with a table that just grew (an `= ANY(array)` filter would compare every row with every
    id). SQLite gets a plain IN."""
    if tx.dialect.name == "postgresql":
        wanted = (
            sa.func.unnest(sa.literal(list(ids), postgresql.ARRAY(sa.Integer)))
            .table_valued("id")
            .render_derived(name="wanted")
        )
        return (
            sa.select(*columns)
            .select_from(wanted.join(table, id_column == wanted.c.id))
            .where(*where)
        )
    return sa.select(*columns).where(id_column.in_(list(ids)), *where)


def _id_chunks(tx: Tx, values: Sequence[int]) -> Iterable[Sequence[int]]:
    if tx.dialect.name == "postgresql":
        return [values] if values else []
    return _chunks(values)


# --- what a batch of hits needs --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignFacts:
    id: int
    public_id: str
    kind: str


def campaigns_for(
    tx: Tx, ids: Sequence[int], public_ids: Sequence[str]
) -> tuple[dict[int, CampaignFacts], dict[str, CampaignFacts]]:
    """Campaigns named by id or by public id, in one query."""
    cond = sa.or_(campaigns.c.id.in_(list(ids)), campaigns.c.public_id.in_(list(public_ids)))
    rows = tx.execute(
        sa.select(campaigns.c.id, campaigns.c.public_id, campaigns.c.kind).where(cond)
    )
    by_id: dict[int, CampaignFacts] = {}
    by_public: dict[str, CampaignFacts] = {}
    for row in rows:
        facts = CampaignFacts(row.id, row.public_id, row.kind)
        by_id[row.id] = facts
        by_public[row.public_id] = facts
    return by_id, by_public


@dataclass(frozen=True, slots=True)
class SendFacts:
    kind: str
    mode: str
    sent_at: datetime | None


def _by_campaign(pairs: Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    grouped: dict[int, set[int]] = {}
    for campaign_id, contact_id in pairs:
        grouped.setdefault(campaign_id, set()).add(contact_id)
    return {cid: sorted(ids) for cid, ids in sorted(grouped.items())}


def sends_for(tx: Tx, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], SendFacts]:
    """Kind, mode and delivery time of the sends named by (campaign id, contact id): one
    query per campaign and 1,000 contacts, through uq_sends_campaign_contact."""
    found: dict[tuple[int, int], SendFacts] = {}
    for campaign_id, contact_ids in _by_campaign(pairs).items():
        for chunk in _id_chunks(tx, contact_ids):
            columns = [sends.c.contact_id, sends.c.kind, sends.c.mode, sends.c.sent_at]
            rows = tx.execute(
                _select_for_ids(
                    tx,
                    columns,
                    sends,
                    sends.c.contact_id,
                    chunk,
                    sends.c.campaign_id == campaign_id,
                )
            )
            for row in rows:
                found[(campaign_id, row.contact_id)] = SendFacts(
                    row.kind, row.mode, as_utc(row.sent_at) if row.sent_at is not None else None
                )
    return found


@dataclass(frozen=True, slots=True)
class ContactNow:
    """What ingest needs of a contact: flags now and the activity dates stored."""

    privacy_flags: int | None
    last_open_date: date | None
    last_click_date: date | None


def contacts_now(tx: Tx, contact_ids: Iterable[int]) -> dict[int, ContactNow]:
    """The contacts' privacy_flags as they are now, with their activity dates (missing ids:
    no such contact)."""
    wanted = sorted(set(contact_ids))
    found: dict[int, ContactNow] = {}
    for chunk in _id_chunks(tx, wanted):
        columns = [
            contacts.c.id,
            contacts.c.privacy_flags,
            contacts.c.last_open_date,
            contacts.c.last_click_date,
        ]
        rows = tx.execute(_select_for_ids(tx, columns, contacts, contacts.c.id, chunk))
        found.update(
            (row.id, ContactNow(row.privacy_flags, row.last_open_date, row.last_click_date))
            for row in rows
        )
    return found


def prior_events(
    tx: Tx, pairs: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], set[tuple[str, str, int]]]:
    """(event, verdict, link id) of the personal events already stored per (campaign, contact):
    what ingest needs to keep unique openers, unique clickers and implicit openers right."""
    found: dict[tuple[int, int], set[tuple[str, str, int]]] = {}
    pe = personal_events.c
    for campaign_id, contact_ids in _by_campaign(pairs).items():
        for chunk in _id_chunks(tx, contact_ids):
            columns = [pe.contact_id, pe.event, pe.verdict, pe.link_id]
            query = _select_for_ids(
                tx, columns, personal_events, pe.contact_id, chunk, pe.campaign_id == campaign_id
            )
            rows = tx.execute(query.group_by(*columns))
            for row in rows:
                found.setdefault((campaign_id, row.contact_id), set()).add(
                    (row.event, row.verdict, row.link_id or 0)
                )
    return found


# --- writes -----------------------------------------------------------------------------------


def _upsert_add(tx: Tx, table: sa.Table, keys: list[str], rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET n = n + excluded.n, on either engine; rows
    are sorted by key so concurrent ingesters lock in the same order."""
    if not rows:
        return
    rows = sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys))
    insert = postgresql.insert if tx.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_={"n": table.c.n + stmt.excluded.n})
    tx.execute(stmt, rows)


def bump_counters(tx: Tx, counts: Mapping[tuple[int, datetime, str, str, str, str], int]) -> None:
    """Add to hit counters keyed (campaign, hour, mode, kind, event, verdict)."""
    keys = ["campaign_id", "hour", "mode", "kind", "event", "verdict"]
    _upsert_add(
        tx,
        hit_counters,
        keys,
        [{**dict(zip(keys, k, strict=True)), "n": n} for k, n in counts.items()],
    )


def bump_totals(tx: Tx, counts: Mapping[tuple[int, str, int], int]) -> None:
    """Add to campaign totals keyed (campaign, metric, link id); zero changes are skipped."""
    keys = ["campaign_id", "metric", "link_id"]
    rows = [{**dict(zip(keys, k, strict=True)), "n": n} for k, n in counts.items() if n]
    _upsert_add(tx, campaign_totals, keys, rows)


def bump_drops(tx: Tx, counts: Mapping[tuple[int, datetime, str], int]) -> None:
    """Add to drop counts keyed (campaign, hour, reason)."""
    keys = ["campaign_id", "hour", "reason"]
    rows = [{**dict(zip(keys, k, strict=True)), "n": n} for k, n in counts.items()]
    _upsert_add(tx, hit_drops, keys, rows)


def batch_seen(tx: Tx, batch_id: str) -> bool:
    query = sa.select(ingested_batches.c.batch_id).where(ingested_batches.c.batch_id == batch_id)
    return tx.execute(query).first() is not None


def mark_batch(tx: Tx, batch_id: str, *, now: datetime) -> None:
    """Record a batch as ingested, in the transaction that ingests it."""
    tx.execute(ingested_batches.insert().values(batch_id=batch_id, at=now))


def prune_batches(tx: Tx, *, before: datetime) -> int:
    """Forget batch ids older than `before` (their spill files are long replayed)."""
    return tx.execute(ingested_batches.delete().where(ingested_batches.c.at < before)).rowcount


def set_last_open_dates(tx: Tx, dates: Mapping[int, date]) -> None:
    """Overwrite contacts.last_open_date (a date, no time: R6)."""
    if dates:
        tx.execute(
            contacts.update()
            .where(contacts.c.id == sa.bindparam("cid"))
            .values(last_open_date=sa.bindparam("d")),
            [{"cid": cid, "d": d} for cid, d in sorted(dates.items())],
        )


def set_last_click_dates(tx: Tx, dates: Mapping[int, date]) -> None:
    """Overwrite contacts.last_click_date."""
    if dates:
        tx.execute(
            contacts.update()
            .where(contacts.c.id == sa.bindparam("cid"))
            .values(last_click_date=sa.bindparam("d")),
            [{"cid": cid, "d": d} for cid, d in sorted(dates.items())],
        )
