"""Creating and listing audience lists; keeping the purposes table in step with settings."""

from __future__ import annotations

from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.store.lists import AudienceList
from clearpixel.store.lists import all_lists as _all_lists
from clearpixel.store.lists import create_list as _create_list
from clearpixel.store.purposes import sync_purposes as _sync_purposes


def create_list(ctx: Context, name: str) -> AudienceList:
    """Create a list named `name` (1–200 characters). Raises ListExists when taken."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ClearpixelError("a list name must have 1 to 200 characters")
    with ctx.db.begin() as tx:
        return _create_list(tx, name, now=ctx.now())


def all_lists(ctx: Context) -> list[AudienceList]:
    with ctx.db.connect() as conn:
        return _all_lists(conn)


def sync_purposes(ctx: Context) -> None:
    """Store the configured purposes (refuses to re-bit one already used)."""
    with ctx.db.begin() as tx:
        _sync_purposes(tx, ctx.purposes)
