"""Creating, renaming, archiving and listing audience lists; keeping the purposes table in
step with settings."""

from __future__ import annotations

from clearpixel.context import Context
from clearpixel.domain.errors import N_, ClearpixelError
from clearpixel.store.lists import AudienceList, get_list_by_id, set_archived
from clearpixel.store.lists import all_lists as _all_lists
from clearpixel.store.lists import create_list as _create_list
from clearpixel.store.lists import rename_list as _rename_list
from clearpixel.store.purposes import sync_purposes as _sync_purposes


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200 or "\x00" in name:
        raise ClearpixelError(N_("a list name must have 1 to 200 characters"))
    return name


def create_list(ctx: Context, name: str) -> AudienceList:
    """Create a list named `name` (1–200 characters). Raises ListExists when taken."""
    name = _checked_name(name)
    with ctx.db.begin() as tx:
        return _create_list(tx, name, now=ctx.now())


def all_lists(ctx: Context) -> list[AudienceList]:
    with ctx.db.connect() as conn:
        return _all_lists(conn)


def sync_purposes(ctx: Context) -> None:
    """Store the configured purposes (refuses to re-bit one already used)."""
    with ctx.db.begin() as tx:
        _sync_purposes(tx, ctx.purposes)


def rename_list(ctx: Context, list_id: int, name: str) -> AudienceList:
    """Give a list another name (its contacts, campaigns and ledger stay). Raises
    ListExists, UnknownList, ClearpixelError. Effects: audience_lists.name."""
    name = _checked_name(name)
    with ctx.db.begin() as tx:
        get_list_by_id(tx, list_id)
        _rename_list(tx, list_id, name)
        return get_list_by_id(tx, list_id)


def archive_list(ctx: Context, list_id: int, *, archived: bool = True) -> None:
    """Archive a list (hidden from the pickers of new campaigns and imports; its contacts,
    campaigns and ledger are kept) or restore it. Raises UnknownList.
    Effects: audience_lists.archived_at."""
    with ctx.db.begin() as tx:
        get_list_by_id(tx, list_id)
        set_archived(tx, list_id, at=ctx.now() if archived else None)
