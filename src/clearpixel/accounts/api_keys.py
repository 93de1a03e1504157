"""REST API keys: stored as their SHA-256 only, shown once, revocable. Each key has a role
(the same roles as users: what its routes may do), and may be limited to starting signups
(`signup` scope, what a website should hold, R18) or to one list."""

from __future__ import annotations

import hashlib
import secrets

from clearpixel.accounts.roles import Role, parse_role
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError, NotFound
from clearpixel.store import accounts as store
from clearpixel.store.lists import get_list

API_KEY_PREFIX = "cpk_"
SCOPES = ("full", "signup")

ApiKey = store.ApiKey


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    ctx: Context,
    name: str,
    *,
    scope: str = "full",
    list_name: str | None = None,
    role: str = Role.ADMIN,
) -> tuple[ApiKey, str]:
    """A new key named `name`; returns it with its secret, which is never stored or shown again.
    `scope` `signup` limits it to starting signups (R18); `list_name` limits it to one list;
    `role` limits what its routes may do. Raises ClearpixelError, UnknownList.

    Effects: one api_keys row."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ClearpixelError("an API key name must have 1 to 100 characters")
    if scope not in SCOPES:
        raise ClearpixelError(f"unknown scope {scope!r} (known: {', '.join(SCOPES)})")
    if scope == "signup" and not list_name:
        raise ClearpixelError("a signup key needs the list it signs up to: --list NAME")
    chosen = parse_role(role)
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    with ctx.db.begin() as tx:
        list_id = get_list(tx, list_name).id if list_name else None
        key = store.insert_api_key(
            tx,
            name,
            secret[: len(API_KEY_PREFIX) + 6],
            _key_hash(secret),
            now=ctx.now(),
            scope=scope,
            list_id=list_id,
            role=chosen.value,
        )
    return key, secret


def api_keys(ctx: Context) -> list[ApiKey]:
    with ctx.db.connect() as conn:
        return store.all_api_keys(conn)


def revoke_api_key(ctx: Context, key_id: int) -> None:
    """Revoke a key; raises NotFound when there is no such active key.
    Effects: api_keys.revoked_at."""
    with ctx.db.begin() as tx:
        if not store.revoke_api_key(tx, key_id, now=ctx.now()):
            raise NotFound(f"no active API key with id {key_id}")


def api_key_id(ctx: Context, presented: str) -> int | None:
    """The id of the active key `presented`, or None (unknown or revoked)."""
    key = api_key(ctx, presented)
    return key.id if key else None


def api_key(ctx: Context, presented: str) -> ApiKey | None:
    """The active key `presented`, or None (unknown or revoked)."""
    if not presented.startswith(API_KEY_PREFIX):
        return None
    with ctx.db.connect() as conn:
        return store.active_key(conn, _key_hash(presented))
