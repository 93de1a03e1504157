"""Named queries for audience lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from clearpixel.domain.errors import N_, ClearpixelError, NotFound
from clearpixel.store.db import Tx
from clearpixel.store.schema import audience_lists, contacts


@dataclass(frozen=True, slots=True)
class AudienceList:
    id: int
    name: str
    created_at: datetime
    contacts: int = 0
    archived_at: datetime | None = None

    def check_open(self) -> None:
        """An archived list takes no new contacts and no new campaigns: raises ListArchived
        (its contacts, campaigns and ledger stay; restoring it lifts this)."""
        if self.archived_at is not None:
            raise ListArchived(
                N_("the list %(name)r is archived: restore it first"), name=self.name
            )


class ListExists(ClearpixelError):
    """A list with that name already exists."""


class ListArchived(ClearpixelError):
    """The list is archived: nothing new goes into it."""


class UnknownList(NotFound):
    """No list has that name."""


def create_list(tx: Tx, name: str, *, now: datetime) -> AudienceList:
    """Insert a new list; raises ListExists when the name is taken."""
    if tx.execute(sa.select(audience_lists.c.id).where(audience_lists.c.name == name)).first():
        raise ListExists(N_("list %(name)r already exists"), name=name)
    new_id = tx.execute(
        audience_lists.insert().values(name=name, created_at=now).returning(audience_lists.c.id)
    ).scalar_one()
    return AudienceList(new_id, name, now)


def get_list(tx: Tx, name: str) -> AudienceList:
    """The list called `name`; raises UnknownList naming it."""
    row = tx.execute(sa.select(audience_lists).where(audience_lists.c.name == name)).first()
    if row is None:
        raise UnknownList(N_("no list named %(name)r"), name=name)
    return AudienceList(row.id, row.name, row.created_at, archived_at=row.archived_at)


def get_list_by_id(tx: Tx, list_id: int) -> AudienceList:
    row = tx.execute(sa.select(audience_lists).where(audience_lists.c.id == list_id)).first()
    if row is None:
        raise UnknownList(N_("no list with id %(id)s"), id=list_id)
    return AudienceList(row.id, row.name, row.created_at, archived_at=row.archived_at)


def all_lists(tx: Tx) -> list[AudienceList]:
    """Every list with its number of contacts, by name."""
    count = sa.func.count(contacts.c.id)
    rows = tx.execute(
        sa.select(audience_lists, count.label("n"))
        .select_from(audience_lists.outerjoin(contacts))
        .group_by(audience_lists.c.id)
        .order_by(audience_lists.c.name)
    )
    return [AudienceList(r.id, r.name, r.created_at, r.n, r.archived_at) for r in rows]


def rename_list(tx: Tx, list_id: int, name: str) -> None:
    """Give the list another name; raises ListExists when another list has it."""
    taken = tx.execute(
        sa.select(audience_lists.c.id).where(
            audience_lists.c.name == name, audience_lists.c.id != list_id
        )
    ).first()
    if taken:
        raise ListExists(N_("list %(name)r already exists"), name=name)
    tx.execute(audience_lists.update().where(audience_lists.c.id == list_id).values(name=name))


def set_archived(tx: Tx, list_id: int, *, at: datetime | None) -> None:
    """Archive the list (`at`) or restore it (None)."""
    tx.execute(audience_lists.update().where(audience_lists.c.id == list_id).values(archived_at=at))
