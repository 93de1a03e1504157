"""Admin users: each signs in with an email address and a password and has one role
(`accounts.roles`). `init` creates the first one (`admin`); the others are created,
disabled and reset by an admin, from the CLI (`clearpixel users`) or the admin UI.

At least one enabled admin always remains: disabling or demoting the last one is refused,
so an installation can never lock itself out of its own users page."""

from __future__ import annotations

import re
import secrets

from clearpixel.accounts.roles import Role, parse_role
from clearpixel.accounts.sessions import check_password_strength, hasher
from clearpixel.context import Context
from clearpixel.domain.errors import N_, ClearpixelError, NotFound
from clearpixel.i18n import normalise_locale
from clearpixel.store import accounts as store
from clearpixel.store.db import Tx

ADMIN_USERNAME = "admin"  # the first account, created by `init`
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")

AdminAccount = store.AdminAccount


class UserExists(ClearpixelError):
    """A user with this address exists already."""


def ensure_admin(ctx: Context, *, password: str | None = None) -> str | None:
    """Create the first admin account when missing, or set its password when `password` is
    given. Returns the password to show once (a generated one on first creation, or the one
    given), or None when the account already existed and nothing changed.

    Effects: admin_accounts row; a new password ends every session of the account."""
    with ctx.db.begin() as tx:
        existing = store.get_admin(tx, ADMIN_USERNAME)
        if existing and not password:
            return None
        chosen = password or secrets.token_urlsafe(12)
        check_password_strength(chosen)
        admin_id = store.upsert_admin(tx, ADMIN_USERNAME, hasher.hash(chosen), now=ctx.now())
        store.delete_sessions(tx, admin_id)
        return chosen


def create_user(ctx: Context, email: str, *, role: str, password: str) -> AdminAccount:
    """A new user who signs in with `email` and `password`. Raises ClearpixelError for an
    address that is not one, an unknown role or a short password; UserExists.

    Effects: one admin_accounts row."""
    address = email.strip().lower()
    if not _EMAIL.fullmatch(address) or len(address) > 320:
        raise ClearpixelError(N_("%(email)r is not an email address"), email=email)
    chosen = parse_role(role)
    check_password_strength(password)
    with ctx.db.begin() as tx:
        if store.get_admin(tx, address):
            raise UserExists(N_("a user %(address)s exists already"), address=address)
        new_id = store.insert_admin(
            tx, address, hasher.hash(password), now=ctx.now(), role=chosen.value
        )
        found = store.get_admin_by_id(tx, new_id)
    assert found is not None
    return found


def set_user_locale(ctx: Context, admin_id: int, locale: str) -> str:
    """Keep the admin UI's language a user chose (`en`, `fr`; "" follows the browser).
    Returns the language kept; raises ClearpixelError for one the product does not ship.

    Effects: admin_accounts.locale."""
    chosen = normalise_locale(locale) if locale else ""
    if chosen is None:
        raise ClearpixelError(
            N_("%(locale)r is not a language of this installation"), locale=locale
        )
    with ctx.db.begin() as tx:
        store.set_locale(tx, admin_id, chosen)
    return chosen


def all_users(ctx: Context) -> list[AdminAccount]:
    with ctx.db.connect() as conn:
        return store.all_admins(conn)


def find_user(ctx: Context, name_or_id: str) -> AdminAccount:
    """The user with this address (or id); raises NotFound."""
    with ctx.db.connect() as conn:
        if name_or_id.isdigit():
            found = store.get_admin_by_id(conn, int(name_or_id))
        else:
            found = store.get_admin(conn, name_or_id.strip().lower())
    if found is None:
        raise NotFound(N_("no user %(user)r"), user=name_or_id)
    return found


def disable_user(ctx: Context, name_or_id: str) -> AdminAccount:
    """Disable a user: their sessions end and they can no longer sign in. Refused for the
    last enabled admin. Effects: admin_accounts.disabled_at; their admin_sessions deleted."""
    user = find_user(ctx, name_or_id)
    with ctx.db.begin() as tx:
        if user.role == Role.ADMIN and user.disabled_at is None:
            _keep_one_admin(tx, user.id)
        store.set_disabled(tx, user.id, at=ctx.now())
        store.delete_sessions(tx, user.id)
    return find_user(ctx, str(user.id))


def enable_user(ctx: Context, name_or_id: str) -> AdminAccount:
    """Let a disabled user sign in again. Effects: admin_accounts.disabled_at cleared."""
    user = find_user(ctx, name_or_id)
    with ctx.db.begin() as tx:
        store.set_disabled(tx, user.id, at=None)
    return find_user(ctx, str(user.id))


def set_user_role(ctx: Context, name_or_id: str, role: str) -> AdminAccount:
    """Give a user another role; demoting the last enabled admin is refused.
    Effects: admin_accounts.role."""
    user = find_user(ctx, name_or_id)
    chosen = parse_role(role)
    with ctx.db.begin() as tx:
        if user.role == Role.ADMIN and chosen != Role.ADMIN and user.disabled_at is None:
            _keep_one_admin(tx, user.id)
        store.set_role(tx, user.id, chosen.value)
    return find_user(ctx, str(user.id))


def reset_password(ctx: Context, name_or_id: str, *, password: str | None = None) -> str:
    """Set a user's password (a generated one unless given) and end their sessions; returns
    the password to hand over. Effects: admin_accounts.password_hash; sessions deleted."""
    user = find_user(ctx, name_or_id)
    chosen = password or secrets.token_urlsafe(12)
    check_password_strength(chosen)
    with ctx.db.begin() as tx:
        store.set_password_hash(tx, user.id, hasher.hash(chosen))
        store.delete_sessions(tx, user.id)
    return chosen


def _keep_one_admin(tx: Tx, leaving: int) -> None:
    others = [
        u
        for u in store.all_admins(tx)
        if u.role == Role.ADMIN and u.disabled_at is None and u.id != leaving
    ]
    if not others:
        raise ClearpixelError(N_("this is the last enabled admin; make another admin first"))
