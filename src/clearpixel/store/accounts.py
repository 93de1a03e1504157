"""Named queries for the admin users (accounts with a role), their sessions, REST API keys
and failed sign-ins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from clearpixel.store.db import Tx
from clearpixel.store.schema import admin_accounts, admin_sessions, api_keys, login_failures


@dataclass(frozen=True, slots=True)
class AdminAccount:
    id: int
    username: str
    password_hash: str
    created_at: datetime
    role: str = "admin"
    disabled_at: datetime | None = None
    locale: str = ""


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    scope: str = "full"
    list_id: int | None = None
    role: str = "admin"


def _account(row: sa.Row[object]) -> AdminAccount:
    r = row
    return AdminAccount(
        r.id, r.username, r.password_hash, r.created_at, r.role, r.disabled_at, r.locale or ""
    )


def get_admin(tx: Tx, username: str) -> AdminAccount | None:
    row = tx.execute(sa.select(admin_accounts).where(admin_accounts.c.username == username)).first()
    return _account(row) if row else None


def get_admin_by_id(tx: Tx, admin_id: int) -> AdminAccount | None:
    row = tx.execute(sa.select(admin_accounts).where(admin_accounts.c.id == admin_id)).first()
    return _account(row) if row else None


def all_admins(tx: Tx) -> list[AdminAccount]:
    return [
        _account(r) for r in tx.execute(sa.select(admin_accounts).order_by(admin_accounts.c.id))
    ]


def upsert_admin(
    tx: Tx, username: str, password_hash: str, *, now: datetime, role: str = "admin"
) -> int:
    """Create the account, or replace its password hash when it exists (its role and
    disabling are then left as they are)."""
    found = get_admin(tx, username)
    if found:
        tx.execute(
            admin_accounts.update()
            .where(admin_accounts.c.id == found.id)
            .values(password_hash=password_hash)
        )
        return found.id
    return insert_admin(tx, username, password_hash, now=now, role=role)


def insert_admin(tx: Tx, username: str, password_hash: str, *, now: datetime, role: str) -> int:
    return int(
        tx.execute(
            admin_accounts.insert()
            .values(username=username, password_hash=password_hash, created_at=now, role=role)
            .returning(admin_accounts.c.id)
        ).scalar_one()
    )


def set_disabled(tx: Tx, admin_id: int, *, at: datetime | None) -> bool:
    """Disable the account (`at`) or enable it again (None); False when there is none."""
    result = tx.execute(
        admin_accounts.update().where(admin_accounts.c.id == admin_id).values(disabled_at=at)
    )
    return bool(result.rowcount)


def set_locale(tx: Tx, admin_id: int, locale: str) -> None:
    tx.execute(admin_accounts.update().where(admin_accounts.c.id == admin_id).values(locale=locale))


def set_role(tx: Tx, admin_id: int, role: str) -> None:
    tx.execute(admin_accounts.update().where(admin_accounts.c.id == admin_id).values(role=role))


def insert_api_key(
    tx: Tx,
    name: str,
    prefix: str,
    key_hash: str,
    *,
    now: datetime,
    scope: str = "full",
    list_id: int | None = None,
    role: str = "admin",
) -> ApiKey:
    new_id = tx.execute(
        api_keys.insert()
        .values(
            name=name,
            prefix=prefix,
            key_hash=key_hash,
            created_at=now,
            scope=scope,
            list_id=list_id,
            role=role,
        )
        .returning(api_keys.c.id)
    ).scalar_one()
    return ApiKey(new_id, name, prefix, now, None, scope, list_id, role)


def _key(row: sa.Row[object]) -> ApiKey:
    r = row
    return ApiKey(r.id, r.name, r.prefix, r.created_at, r.revoked_at, r.scope, r.list_id, r.role)


def all_api_keys(tx: Tx) -> list[ApiKey]:
    return [_key(r) for r in tx.execute(sa.select(api_keys).order_by(api_keys.c.id))]


def active_key(tx: Tx, key_hash: str) -> ApiKey | None:
    """The unrevoked key with this hash, or None."""
    row = tx.execute(
        sa.select(api_keys).where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
    ).first()
    return _key(row) if row else None


def revoke_api_key(tx: Tx, key_id: int, *, now: datetime) -> bool:
    """Mark the key revoked; False when there is no such unrevoked key."""
    result = tx.execute(
        api_keys.update()
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)


def insert_session(
    tx: Tx, token_hash: str, admin_id: int, *, now: datetime, expires: datetime
) -> None:
    tx.execute(
        admin_sessions.insert().values(
            token_hash=token_hash, admin_id=admin_id, created_at=now, expires_at=expires
        )
    )


def live_session(tx: Tx, token_hash: str, *, now: datetime) -> tuple[AdminAccount, datetime] | None:
    """The enabled account of an unexpired session and the session's expiry, or None."""
    row = tx.execute(
        sa.select(admin_accounts, admin_sessions.c.expires_at)
        .join(admin_sessions, admin_sessions.c.admin_id == admin_accounts.c.id)
        .where(
            admin_sessions.c.token_hash == token_hash,
            admin_sessions.c.expires_at > now,
            admin_accounts.c.disabled_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    return _account(row), row.expires_at


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One live session as its owner sees it: `ref` is the SHA-256 of its token."""

    ref: str
    created_at: datetime
    expires_at: datetime


def sessions_of(tx: Tx, admin_id: int, *, now: datetime) -> list[SessionRow]:
    rows = tx.execute(
        sa.select(admin_sessions)
        .where(admin_sessions.c.admin_id == admin_id, admin_sessions.c.expires_at > now)
        .order_by(admin_sessions.c.created_at)
    )
    return [SessionRow(r.token_hash, r.created_at, r.expires_at) for r in rows]


def delete_session_of(tx: Tx, admin_id: int, token_hash: str) -> bool:
    """End one session of this account; False when it has no such session."""
    result = tx.execute(
        admin_sessions.delete().where(
            admin_sessions.c.admin_id == admin_id, admin_sessions.c.token_hash == token_hash
        )
    )
    return bool(result.rowcount)


def delete_session(tx: Tx, token_hash: str) -> None:
    tx.execute(admin_sessions.delete().where(admin_sessions.c.token_hash == token_hash))


def delete_sessions(tx: Tx, admin_id: int, *, keep: str | None = None) -> int:
    """End every session of the account but `keep`; returns how many ended."""
    query = admin_sessions.delete().where(admin_sessions.c.admin_id == admin_id)
    if keep is not None:
        query = query.where(admin_sessions.c.token_hash != keep)
    return int(tx.execute(query).rowcount)


def prune_sessions(tx: Tx, *, now: datetime) -> None:
    tx.execute(admin_sessions.delete().where(admin_sessions.c.expires_at <= now))


def set_password_hash(tx: Tx, admin_id: int, password_hash: str) -> None:
    tx.execute(
        admin_accounts.update()
        .where(admin_accounts.c.id == admin_id)
        .values(password_hash=password_hash)
    )


def record_login_failure(tx: Tx, username: str, ip: str, *, now: datetime) -> None:
    tx.execute(login_failures.insert().values(username=username[:320], ip=ip[:64], at=now))


@dataclass(frozen=True, slots=True)
class Failures:
    """Failed sign-ins since a time: from this address (any account), against this account
    (any address), against this account from this address, and the address's latest."""

    by_ip: int
    by_user: int
    by_pair: int
    last_from_ip: datetime | None


def count_login_failures(tx: Tx, *, username: str, ip: str, since: datetime) -> Failures:
    user, addr = username[:320], ip[:64]
    recent = login_failures.c.at >= since
    by_ip, last = tx.execute(
        sa.select(sa.func.count(), sa.func.max(login_failures.c.at)).where(
            login_failures.c.ip == addr, recent
        )
    ).one()
    by_user = tx.execute(
        sa.select(sa.func.count()).where(login_failures.c.username == user, recent)
    ).scalar_one()
    by_pair = tx.execute(
        sa.select(sa.func.count()).where(
            login_failures.c.username == user, login_failures.c.ip == addr, recent
        )
    ).scalar_one()
    return Failures(int(by_ip), int(by_user), int(by_pair), last)


def prune_login_failures(tx: Tx, *, before: datetime) -> None:
    tx.execute(login_failures.delete().where(login_failures.c.at < before))


def clear_login_failures(tx: Tx, *, username: str, ip: str) -> None:
    """After a successful sign-in, the failures made from that network against that account
    are forgotten (those against other accounts are kept: signing in to one's own account
    must not wipe them, or it would reset the throttle on guessing another's password)."""
    tx.execute(
        login_failures.delete().where(
            login_failures.c.ip == ip[:64], login_failures.c.username == username[:320]
        )
    )
