"""Who may act on the audience: the admin account (argon2 password, server-side sessions,
CSRF tokens, throttled sign-in) and the REST API keys (stored as SHA-256, revocable).

A session is a row (`admin_sessions`, keyed by the SHA-256 of a random token); the cookie
holds the token and its HMAC-SHA-256 over the installation's signing keys (sign with the
first, accept any), so a forged cookie is refused without a query, and signing out or a
password change ends sessions on the server: a replayed cookie finds nothing.

Sign-in is throttled per address and per account with growing delays, never by locking the
account: after `FREE_FAILURES` failures an address must wait 1 s, then 2 s, 4 s... (at most
15 minutes) after its latest failure; an address that has failed against the account also
waits as long as the account's own failures (from every address) demand. An address with no
recent failure is never held back, so failures from anywhere else cannot lock the owner out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError, NotFound
from clearpixel.store import admin as store
from clearpixel.store.lists import get_list

ADMIN_USERNAME = "admin"
LOGIN_WINDOW = timedelta(hours=24)  # failures older than this are forgotten
FREE_FAILURES = 3  # failures an address may make before it has to wait
MAX_DELAY = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
API_KEY_PREFIX = "cpk_"

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password anybody has")


class LoginRefused(ClearpixelError):
    """Wrong username or password (the message never says which)."""


class LoginRateLimited(ClearpixelError):
    """This address failed too often lately: it must wait before trying again."""


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in session: `nonce` is its secret token (the CSRF tokens are bound to it)."""

    admin_id: int
    username: str
    nonce: str
    expires: int


def delay_after(failures: int) -> timedelta:
    """How long an address waits after its latest failure, given a count of failures."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - FREE_FAILURES, 20)), MAX_DELAY)


def ensure_admin(ctx: Context, *, password: str | None = None) -> str | None:
    """Create the admin account when missing, or set its password when `password` is given.

    Returns the password to show once (a generated one on first creation, or the one given),
    or None when the account already existed and nothing changed.
    """
    with ctx.db.begin() as tx:
        existing = store.get_admin(tx, ADMIN_USERNAME)
        if existing and not password:
            return None
        chosen = password or secrets.token_urlsafe(12)
        if len(chosen) < 8:
            raise ClearpixelError("the admin password must have at least 8 characters")
        admin_id = store.upsert_admin(tx, ADMIN_USERNAME, _hasher.hash(chosen), now=ctx.now())
        store.delete_sessions(tx, admin_id)  # a new password ends every session
        return chosen


def sign_in(ctx: Context, username: str, password: str, *, ip: str) -> Session:
    """Check a password; returns a new session. Raises LoginRateLimited when this address
    must still wait (see the module docstring), LoginRefused otherwise.

    Effects: a failure is stored (login_failures); a success clears this address's failures
    and stores the session (admin_sessions)."""
    now = ctx.now()
    username = username.strip()[:64]
    with ctx.db.begin() as tx:
        store.prune_login_failures(tx, before=now - LOGIN_WINDOW)
        failures = store.count_login_failures(
            tx, username=username, ip=ip, since=now - LOGIN_WINDOW
        )
        if failures.by_ip and failures.last_from_ip is not None:
            wait = delay_after(failures.by_ip)
            if failures.by_pair:
                wait = max(wait, delay_after(failures.by_user))
            last = failures.last_from_ip
            if last.tzinfo is None:
                last = last.replace(tzinfo=UTC)
            left = last + wait - now
            if left > timedelta(0):
                seconds = math.ceil(left.total_seconds())
                raise LoginRateLimited(
                    "too many failed sign-ins from this address; try again in "
                    f"{seconds} second{'s' if seconds != 1 else ''}"
                )
        account = store.get_admin(tx, username)
        ok = _password_ok(account.password_hash if account else _DUMMY_HASH, password)
        if account is None or not ok:
            store.record_login_failure(tx, username, ip, now=now)
        else:
            store.clear_login_failures(tx, ip=ip)
            token = secrets.token_urlsafe(32)
            expires = now + SESSION_LIFETIME
            store.prune_sessions(tx, now=now)
            store.insert_session(tx, _token_hash(token), account.id, now=now, expires=expires)
    if account is None or not ok:  # raised after the commit, so the failure is counted
        raise LoginRefused("wrong username or password")
    return Session(account.id, account.username, token, int(expires.timestamp()))


def sign_out(ctx: Context, session: Session) -> None:
    """End the session on the server. Effects: its admin_sessions row is deleted."""
    with ctx.db.begin() as tx:
        store.delete_session(tx, _token_hash(session.nonce))


def change_password(ctx: Context, session: Session, current: str, new: str) -> int:
    """Set a new password for the session's account after checking the current one; every
    other session of the account ends. Returns how many ended. Raises LoginRefused when the
    current password is wrong, ClearpixelError when the new one is too short.

    Effects: admin_accounts.password_hash; admin_sessions rows but this one deleted."""
    if len(new) < 8:
        raise ClearpixelError("the new password must have at least 8 characters")
    with ctx.db.begin() as tx:
        account = store.get_admin_by_id(tx, session.admin_id)
        if account is None or not _password_ok(account.password_hash, current):
            raise LoginRefused("the current password is wrong")
        store.set_password_hash(tx, account.id, _hasher.hash(new))
        return store.delete_sessions(tx, account.id, keep=_token_hash(session.nonce))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _password_ok(stored: str, given: str) -> bool:
    try:
        return _hasher.verify(stored, given)
    except (VerificationError, InvalidHashError):
        return False


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _mac(key: bytes, purpose: str, payload: str) -> str:
    return _b64(hmac.new(key, f"{purpose}|{payload}".encode(), hashlib.sha256).digest())


def _verify_mac(ctx: Context, purpose: str, payload: str, mac: str) -> bool:
    return any(
        hmac.compare_digest(_mac(key, purpose, payload), mac) for key in ctx.settings.signing_keys()
    )


def session_cookie(ctx: Context, session: Session) -> str:
    """The cookie value: the session's token and its HMAC."""
    token = session.nonce
    return f"{token}.{_mac(ctx.settings.signing_keys()[0], 'admin-session', token)}"


def read_session(ctx: Context, cookie: str | None) -> Session | None:
    """The live session a cookie names, or None when it is missing, forged, expired or
    ended (signed out, password changed)."""
    if not cookie or cookie.count(".") != 1 or len(cookie) > 200:
        return None
    token, mac = cookie.split(".")
    if not _verify_mac(ctx, "admin-session", token, mac):
        return None
    with ctx.db.connect() as conn:
        found = store.live_session(conn, _token_hash(token), now=ctx.now())
    if found is None:
        return None
    account, expires = found
    return Session(account.id, account.username, token, int(expires.timestamp()))


def csrf_token(ctx: Context, nonce: str) -> str:
    """The CSRF token bound to a session (or pre-session) nonce."""
    return _mac(ctx.settings.signing_keys()[0], "admin-csrf", nonce)


def csrf_ok(ctx: Context, nonce: str | None, token: str | None) -> bool:
    return bool(nonce and token) and _verify_mac(ctx, "admin-csrf", str(nonce), str(token))


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


# --- API keys ---------------------------------------------------------------------------------


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


SCOPES = ("full", "signup")


def create_api_key(
    ctx: Context, name: str, *, scope: str = "full", list_name: str | None = None
) -> tuple[store.ApiKey, str]:
    """A new key named `name`; returns it with its secret, which is never stored or shown again.
    `scope` `signup` limits it to starting signups (what a website's key should do, R18);
    `list_name` limits it to one list. Raises ClearpixelError, UnknownList."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ClearpixelError("an API key name must have 1 to 100 characters")
    if scope not in SCOPES:
        raise ClearpixelError(f"unknown scope {scope!r} (known: {', '.join(SCOPES)})")
    if scope == "signup" and not list_name:
        raise ClearpixelError("a signup key needs the list it signs up to: --list NAME")
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
        )
    return key, secret


def api_keys(ctx: Context) -> list[store.ApiKey]:
    with ctx.db.connect() as conn:
        return store.all_api_keys(conn)


def revoke_api_key(ctx: Context, key_id: int) -> None:
    """Revoke a key; raises NotFound when there is no such active key."""
    with ctx.db.begin() as tx:
        if not store.revoke_api_key(tx, key_id, now=ctx.now()):
            raise NotFound(f"no active API key with id {key_id}")


def api_key_id(ctx: Context, presented: str) -> int | None:
    """The id of the active key `presented`, or None (unknown or revoked)."""
    key = api_key(ctx, presented)
    return key.id if key else None


def api_key(ctx: Context, presented: str) -> store.ApiKey | None:
    """The active key `presented`, or None (unknown or revoked)."""
    if not presented.startswith(API_KEY_PREFIX):
        return None
    with ctx.db.connect() as conn:
        return store.active_key(conn, _key_hash(presented))
