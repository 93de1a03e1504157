"""Named queries for the admin account, REST API keys and failed sign-ins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from clearpixel.store.db import Tx
from clearpixel.store.schema import admin_accounts, api_keys, login_failures


@dataclass(frozen=True, slots=True)
class AdminAccount:
    id: int
    username: str
    password_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def get_admin(tx: Tx, username: str) -> AdminAccount | None:
    row = tx.execute(sa.select(admin_accounts).where(admin_accounts.c.username == username)).first()
    return AdminAccount(row.id, row.username, row.password_hash, row.created_at) if row else None


def get_admin_by_id(tx: Tx, admin_id: int) -> AdminAccount | None:
    row = tx.execute(sa.select(admin_accounts).where(admin_accounts.c.id == admin_id)).first()
    return AdminAccount(row.id, row.username, row.password_hash, row.created_at) if row else None


def upsert_admin(tx: Tx, username: str, password_hash: str, *, now: datetime) -> int:
    """Create the account, or replace its password hash when it exists."""
    found = get_admin(tx, username)
    if found:
        tx.execute(
            admin_accounts.update()
            .where(admin_accounts.c.id == found.id)
            .values(password_hash=password_hash)
        )
        return found.id
    return int(
        tx.execute(
            admin_accounts.insert()
            .values(username=username, password_hash=password_hash, created_at=now)
            .returning(admin_accounts.c.id)
        ).scalar_one()
    )


def insert_api_key(tx: Tx, name: str, prefix: str, key_hash: str, *, now: datetime) -> ApiKey:
    new_id = tx.execute(
        api_keys.insert()
        .values(name=name, prefix=prefix, key_hash=key_hash, created_at=now)
        .returning(api_keys.c.id)
    ).scalar_one()
    return ApiKey(new_id, name, prefix, now, None)


def all_api_keys(tx: Tx) -> list[ApiKey]:
    rows = tx.execute(sa.select(api_keys).order_by(api_keys.c.id))
    return [ApiKey(r.id, r.name, r.prefix, r.created_at, r.revoked_at) for r in rows]


def active_key_id(tx: Tx, key_hash: str) -> int | None:
    """The id of the unrevoked key with this hash, or None."""
    row = tx.execute(
        sa.select(api_keys.c.id).where(
            api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
        )
    ).first()
    return int(row.id) if row else None


def revoke_api_key(tx: Tx, key_id: int, *, now: datetime) -> bool:
    """Mark the key revoked; False when there is no such unrevoked key."""
    result = tx.execute(
        api_keys.update()
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)


def record_login_failure(tx: Tx, username: str, ip: str, *, now: datetime) -> None:
    tx.execute(login_failures.insert().values(username=username[:64], ip=ip[:64], at=now))


def count_login_failures(tx: Tx, *, username: str, ip: str, since: datetime) -> tuple[int, int]:
    """Failures since `since`: (for this username, from this IP)."""
    by_user = tx.execute(
        sa.select(sa.func.count()).where(
            login_failures.c.username == username[:64], login_failures.c.at >= since
        )
    ).scalar_one()
    by_ip = tx.execute(
        sa.select(sa.func.count()).where(
            login_failures.c.ip == ip[:64], login_failures.c.at >= since
        )
    ).scalar_one()
    return int(by_user), int(by_ip)


def prune_login_failures(tx: Tx, *, before: datetime) -> None:
    tx.execute(login_failures.delete().where(login_failures.c.at < before))


def clear_login_failures(tx: Tx, *, username: str) -> None:
    """After a successful sign-in the account's counter starts again."""
    tx.execute(login_failures.delete().where(login_failures.c.username == username[:64]))
