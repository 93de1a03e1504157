"""Named queries for campaigns and their registered links (the only URLs a click may reach,
R13)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from clearpixel.domain.errors import ClearpixelError, NotFound
from clearpixel.store.db import Tx
from clearpixel.store.schema import audience_lists, campaign_links, campaigns, contacts

DRAFT = "draft"
SENDING = "sending"
SENT = "sent"  # every recipient has an outcome (sent, failed or skipped)
FAILED = "failed"  # the run stopped with recipients left; `campaign send` resumes it
CANCELLED = "cancelled"  # stopped on request; `campaign send` resumes it
DELETED = "deleted"  # a draft removed by its owner; kept so that its id is never reused
SCHEDULED = "scheduled"  # a draft waiting for `scheduled_at`; `serve` claims it then
ARCHIVABLE = (SENT, CANCELLED)


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    public_id: str
    list_id: int
    list_name: str
    name: str
    kind: str
    subject: str
    html: str
    text: str | None
    from_addr: str
    status: str
    created_at: datetime
    status_detail: str | None = None
    scheduled_at: datetime | None = None  # UTC
    archived_at: datetime | None = None
    send_lease_until: datetime | None = None  # UTC; past or None: nobody is sending it
    untracked_links: tuple[str, ...] = ()  # filled at create: links left as written


class UnknownCampaign(NotFound):
    """No campaign has that id, public id or name."""


def _campaign(row: sa.Row[Any]) -> Campaign:
    return Campaign(
        id=row.id,
        public_id=row.public_id,
        list_id=row.list_id,
        list_name=row.list_name,
        name=row.name,
        kind=row.kind,
        subject=row.subject,
        html=row.html,
        text=row.text,
        from_addr=row.from_addr,
        status=row.status,
        created_at=row.created_at,
        status_detail=row.status_detail,
        scheduled_at=_utc(row.scheduled_at),
        archived_at=_utc(row.archived_at),
        send_lease_until=_utc(row.send_lease_until),
    )


def _utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite gives it back without its zone)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _select() -> sa.Select[Any]:
    return (
        sa.select(campaigns, audience_lists.c.name.label("list_name"))
        .join(audience_lists, audience_lists.c.id == campaigns.c.list_id)
        .where(campaigns.c.status != DELETED)
    )


def create_campaign(
    tx: Tx,
    *,
    public_id: str,
    list_id: int,
    name: str,
    kind: str,
    subject: str,
    html: str,
    text: str | None,
    from_addr: str,
    now: datetime,
) -> Campaign:
    """Insert a draft campaign and return it."""
    new_id = tx.execute(
        campaigns.insert()
        .values(
            public_id=public_id,
            list_id=list_id,
            name=name,
            kind=kind,
            subject=subject,
            html=html,
            text=text,
            from_addr=from_addr,
            status=DRAFT,
            created_at=now,
        )
        .returning(campaigns.c.id)
    ).scalar_one()
    return get_campaign(tx, new_id)


def get_campaign(tx: Tx, campaign_id: int) -> Campaign:
    row = tx.execute(_select().where(campaigns.c.id == campaign_id)).first()
    if row is None:
        raise UnknownCampaign(f"no campaign with id {campaign_id}")
    return _campaign(row)


def find_campaign(tx: Tx, ref: str | int) -> Campaign:
    """The campaign `ref` names. An int is an id (from a URL's path or a stored row) and only
    an id; text (what a person typed) is an id, else a public id, else a name (the oldest of
    that name). Raises UnknownCampaign naming `ref`. The one way a campaign is looked up."""
    if isinstance(ref, int):
        return get_campaign(tx, ref)
    text = ref.strip()
    cond = sa.or_(campaigns.c.public_id == text, campaigns.c.name == text)
    if text.isdigit():
        cond = sa.or_(cond, campaigns.c.id == int(text))
    rows = tx.execute(_select().where(cond).order_by(campaigns.c.id)).all()
    if not rows:
        raise UnknownCampaign(f"no campaign with id, public id or name {text!r}")
    by_id = [r for r in rows if str(r.id) == text]
    by_public_id = [r for r in rows if r.public_id == text]
    return _campaign((by_id or by_public_id or rows)[0])


def all_campaigns(tx: Tx, *, archived: bool | None = None) -> list[Campaign]:
    """Every campaign, newest first; `archived` True: only the archived ones, False: only
    the others, None: all."""
    query = _select().order_by(campaigns.c.id.desc())
    if archived is not None:
        query = query.where(
            campaigns.c.archived_at.is_not(None) if archived else campaigns.c.archived_at.is_(None)
        )
    return [_campaign(r) for r in tx.execute(query)]


def set_schedule(tx: Tx, campaign_id: int, at: datetime, *, detail: str) -> bool:
    """Schedule a draft (or move a scheduled campaign) to `at`. Returns whether the row
    changed (False: it is neither a draft nor scheduled any more)."""
    result = tx.execute(
        campaigns.update()
        .where(campaigns.c.id == campaign_id, campaigns.c.status.in_([DRAFT, SCHEDULED]))
        .values(status=SCHEDULED, scheduled_at=at.astimezone(UTC), status_detail=detail)
    )
    return bool(result.rowcount)


def clear_schedule(tx: Tx, campaign_id: int) -> bool:
    """A scheduled campaign becomes a draft again. Returns whether it was scheduled."""
    result = tx.execute(
        campaigns.update()
        .where(campaigns.c.id == campaign_id, campaigns.c.status == SCHEDULED)
        .values(status=DRAFT, scheduled_at=None, status_detail=None)
    )
    return bool(result.rowcount)


def due_ids(tx: Tx, now: datetime) -> list[int]:
    """Scheduled campaigns whose time has come, oldest time first (read only: `claim` is
    what takes one)."""
    rows = tx.execute(
        sa.select(campaigns.c.id)
        .where(campaigns.c.status == SCHEDULED, campaigns.c.scheduled_at <= now.astimezone(UTC))
        .order_by(campaigns.c.scheduled_at, campaigns.c.id)
    )
    return [int(r.id) for r in rows]


def claim(tx: Tx, campaign_id: int, now: datetime, *, detail: str) -> bool:
    """Take a due scheduled campaign for sending: one UPDATE from `scheduled` to `sending`,
    so of several processes racing for it exactly one sees a changed row (PostgreSQL makes
    the others wait on the row and re-check the status; SQLite runs one writer at a time).
    Returns whether this caller won it."""
    result = tx.execute(
        campaigns.update()
        .where(
            campaigns.c.id == campaign_id,
            campaigns.c.status == SCHEDULED,
            campaigns.c.scheduled_at <= now.astimezone(UTC),
        )
        .values(status=SENDING, status_detail=detail)
    )
    return bool(result.rowcount)


def set_archived(tx: Tx, campaign_id: int, *, at: datetime | None) -> bool:
    """Archive (`at`) or restore (None) a sent or cancelled campaign. Returns whether the
    row changed (False: it is in another status)."""
    result = tx.execute(
        campaigns.update()
        .where(campaigns.c.id == campaign_id, campaigns.c.status.in_(ARCHIVABLE))
        .values(archived_at=at.astimezone(UTC) if at else None)
    )
    return bool(result.rowcount)


def set_status(
    tx: Tx,
    campaign_id: int,
    status: str,
    *,
    detail: str | None = None,
    only_from: Sequence[str] | None = None,
) -> bool:
    """Set the status (and why); with `only_from`, only when the status is one of those.
    Returns whether the row changed."""
    query = campaigns.update().where(campaigns.c.id == campaign_id)
    if only_from is not None:
        query = query.where(campaigns.c.status.in_(list(only_from)))
    result = tx.execute(query.values(status=status, status_detail=detail))
    return bool(result.rowcount)


def take_send_lease(
    tx: Tx,
    campaign_id: int,
    holder: str,
    *,
    now: datetime,
    until: datetime,
    replacing: str | None = None,
) -> bool:
    """Take (or renew) the lease on sending the campaign until `until`: only when nobody
    holds it, its lease ran out, `holder` holds it already, or `replacing` (a holder known
    to be gone) does. Returns whether it did."""
    free = sa.or_(
        campaigns.c.send_lease_until.is_(None),
        campaigns.c.send_lease_until < now,
        campaigns.c.send_lease_holder.in_([holder] if replacing is None else [holder, replacing]),
    )
    result = tx.execute(
        campaigns.update()
        .where(campaigns.c.id == campaign_id, free)
        .values(send_lease_holder=holder, send_lease_until=until)
    )
    return bool(result.rowcount)


def send_lease_holder(tx: Tx, campaign_id: int) -> str | None:
    """Who holds the campaign's send lease (None: nobody)."""
    query = sa.select(campaigns.c.send_lease_holder).where(campaigns.c.id == campaign_id)
    return tx.execute(query).scalar_one_or_none()


def release_send_lease(tx: Tx, campaign_id: int, holder: str) -> None:
    """Give the lease back (only `holder`'s own)."""
    tx.execute(
        campaigns.update()
        .where(campaigns.c.id == campaign_id, campaigns.c.send_lease_holder == holder)
        .values(send_lease_holder=None, send_lease_until=None)
    )


def get_status(tx: Tx, campaign_id: int) -> str:
    """The status as stored now (what another process may have set, e.g. a cancel)."""
    return str(
        tx.execute(sa.select(campaigns.c.status).where(campaigns.c.id == campaign_id)).scalar_one()
    )


def list_attribute_names(tx: Tx, list_id: int, *, batch: int = 5000) -> set[str]:
    """Every attribute name some contact of the list has (read in batches)."""
    names: set[str] = set()
    last = 0
    while True:
        rows = tx.execute(
            sa.select(contacts.c.id, contacts.c.attributes)
            .where(contacts.c.list_id == list_id, contacts.c.id > last)
            .order_by(contacts.c.id)
            .limit(batch)
        ).all()
        if not rows:
            return names
        for row in rows:
            names.update(row.attributes or {})
        last = rows[-1].id


def get_links(tx: Tx, campaign_id: int) -> dict[int, str]:
    """The campaign's registered links: link id to URL."""
    rows = tx.execute(
        sa.select(campaign_links.c.link_id, campaign_links.c.url)
        .where(campaign_links.c.campaign_id == campaign_id)
        .order_by(campaign_links.c.link_id)
    )
    return {row.link_id: row.url for row in rows}


def all_links(tx: Tx) -> dict[tuple[int, int], str]:
    """Every registered link: (campaign id, link id) to URL."""
    rows = tx.execute(sa.select(campaign_links))
    return {(row.campaign_id, row.link_id): row.url for row in rows}


def links_match(tx: Tx, campaign_id: int, urls: Sequence[str]) -> bool:
    """Whether the campaign's registered links are exactly `urls` (ids 1..n), read only."""
    return get_links(tx, campaign_id) == {i: url for i, url in enumerate(urls, start=1)}


def register_links(tx: Tx, campaign_id: int, urls: Sequence[str]) -> None:
    """Store the links found when compiling, ids 1..n in document order. A campaign's links
    never change once stored: compiling again must find the same ones."""
    stored = get_links(tx, campaign_id)
    wanted = {i: url for i, url in enumerate(urls, start=1)}
    if stored == wanted:
        return
    if stored:
        raise ClearpixelError(
            f"campaign {campaign_id}: its links were registered differently before; "
            "a campaign's links cannot change once registered"
        )
    if wanted:
        tx.execute(
            campaign_links.insert(),
            [{"campaign_id": campaign_id, "link_id": i, "url": u} for i, u in wanted.items()],
        )
