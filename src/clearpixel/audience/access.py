"""Who may act on the audience: the admin account (argon2 password, signed session cookie,
CSRF tokens, rate-limited sign-in) and the REST API keys (stored as SHA-256, revocable).

Sessions and CSRF tokens are HMAC-SHA-256 over the installation's signing keys (sign with the
first, accept any), so rotating keys signs everyone out once the old key is dropped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError, NotFound
from clearpixel.store import admin as store

ADMIN_USERNAME = "admin"
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5
SESSION_LIFETIME = timedelta(hours=12)
API_KEY_PREFIX = "cpk_"

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password anybody has")


class LoginRefused(ClearpixelError):
    """Wrong username or password (the message never says which)."""


class LoginRateLimited(ClearpixelError):
    """Too many failed sign-ins for this account or from this address."""


@dataclass(frozen=True, slots=True)
class Session:
    admin_id: int
    username: str
    nonce: str
    expires: int


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
        store.upsert_admin(tx, ADMIN_USERNAME, _hasher.hash(chosen), now=ctx.now())
        return chosen


def sign_in(ctx: Context, username: str, password: str, *, ip: str) -> Session:
    """Check a password; returns a new session. Raises LoginRateLimited after MAX_FAILURES
    failures within LOGIN_WINDOW for the account or the address, LoginRefused otherwise.

    Effects: a failure is stored (login_failures); a success clears the account's failures.
    """
    now = ctx.now()
    username = username.strip()[:64]
    with ctx.db.begin() as tx:
        store.prune_login_failures(tx, before=now - LOGIN_WINDOW)
        by_user, by_ip = store.count_login_failures(
            tx, username=username, ip=ip, since=now - LOGIN_WINDOW
        )
        if by_user >= MAX_FAILURES or by_ip >= MAX_FAILURES:
            raise LoginRateLimited(
                "too many failed sign-ins; try again in "
                f"{int(LOGIN_WINDOW.total_seconds() // 60)} minutes"
            )
        account = store.get_admin(tx, username)
        ok = _password_ok(account.password_hash if account else _DUMMY_HASH, password)
        if account is None or not ok:
            store.record_login_failure(tx, username, ip, now=now)
        else:
            store.clear_login_failures(tx, username=username)
    if account is None or not ok:  # raised after the commit, so the failure is counted
        raise LoginRefused("wrong username or password")
    expires = int((now + SESSION_LIFETIME).timestamp())
    return Session(account.id, account.username, secrets.token_urlsafe(16), expires)


def _password_ok(stored: str, given: str) -> bool:
    try:
        return _hasher.verify(stored, given)
    except (VerificationError, InvalidHashError):
        return False


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, payload: str) -> str:
    return _b64(hmac.new(key, f"{purpose}|{payload}".encode(), hashlib.sha256).digest())


def _verify_mac(ctx: Context, purpose: str, payload: str, mac: str) -> bool:
    return any(
        hmac.compare_digest(_mac(key, purpose, payload), mac) for key in ctx.settings.signing_keys()
    )


def session_cookie(ctx: Context, session: Session) -> str:
    """The cookie value: base64url JSON payload and its HMAC."""
    payload = _b64(
        json.dumps(
            {
                "a": session.admin_id,
                "u": session.username,
                "n": session.nonce,
                "e": session.expires,
            },
            separators=(",", ":"),
        ).encode()
    )
    return f"{payload}.{_mac(ctx.settings.signing_keys()[0], 'admin-session', payload)}"


def read_session(ctx: Context, cookie: str | None) -> Session | None:
    """The session a cookie holds, or None when it is missing, forged or expired."""
    if not cookie or cookie.count(".") != 1:
        return None
    payload, mac = cookie.split(".")
    if not _verify_mac(ctx, "admin-session", payload, mac):
        return None
    try:
        data = json.loads(_unb64(payload))
        session = Session(int(data["a"]), str(data["u"]), str(data["n"]), int(data["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    if session.expires < ctx.now().timestamp():
        return None
    return session


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


def create_api_key(ctx: Context, name: str) -> tuple[store.ApiKey, str]:
    """A new key named `name`; returns it with its secret, which is never stored or shown again."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ClearpixelError("an API key name must have 1 to 100 characters")
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    with ctx.db.begin() as tx:
        key = store.insert_api_key(
            tx, name, secret[: len(API_KEY_PREFIX) + 6], _key_hash(secret), now=ctx.now()
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
    if not presented.startswith(API_KEY_PREFIX):
        return None
    with ctx.db.connect() as conn:
        return store.active_key_id(conn, _key_hash(presented))
