"""Signing in to the admin: argon2 passwords, server-side sessions, throttled sign-in.

A session is a row (`admin_sessions`, keyed by the SHA-256 of a random token); the cookie
holds the token and its HMAC-SHA-256 over the installation's signing keys (sign with the
first, accept any), so a forged cookie is refused without a query, and signing out, a
password change or disabling the user ends sessions on the server: a replayed cookie finds
nothing.

Sign-in is throttled per network and per account with growing delays, never by locking the
account: after `FREE_FAILURES` failures a network must wait 1 s, then 2 s, 4 s... (at most
15 minutes) after its latest failure; a network that has failed against the account also
waits as long as the account's own failures (from every network) demand. A network with no
recent failure is never held back, so failures from anywhere else cannot lock the owner out.
A network is an IPv4 address or an IPv6 /64 (one subscriber's allocation: counting single
IPv6 addresses would give it 2^64 fresh starts). A success forgets only the failures made
from that network against that account: signing in to one's own account does not wipe the
failures one made against another's.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from clearpixel.accounts import csrf
from clearpixel.accounts.roles import Permission, allows
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError, NotFound
from clearpixel.domain.mac import hmac_sha256, same_mac
from clearpixel.store import accounts as store

LOGIN_WINDOW = timedelta(hours=24)  # failures older than this are forgotten
FREE_FAILURES = 3  # failures an address may make before it has to wait
MAX_DELAY = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
CSRF_PURPOSE = "admin"

hasher = PasswordHasher()
_DUMMY_HASH = hasher.hash("not a password anybody has")


class LoginRefused(ClearpixelError):
    """Wrong address or password (the message never says which)."""


class LoginRateLimited(ClearpixelError):
    """This address failed too often lately: it must wait `seconds` before trying again."""

    def __init__(self, message: str, seconds: int = 0) -> None:
        super().__init__(message)
        self.seconds = seconds


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in session: `nonce` is its secret token (the CSRF tokens are bound to it)."""

    admin_id: int
    username: str
    nonce: str
    expires: int
    role: str = "admin"
    locale: str = ""  # the admin UI's language the user chose ("" follows the browser)

    def allows(self, need: Permission) -> bool:
        return allows(self.role, need)

    @property
    def actor(self) -> str:
        """How the ledger and the logs name this user's changes."""
        return f"admin:{self.username}"


def delay_after(failures: int) -> timedelta:
    """How long an address waits after its latest failure, given a count of failures."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - FREE_FAILURES, 20)), MAX_DELAY)


def network_of(ip: str) -> str:
    """The network sign-in failures are counted by: an IPv4 address (also one written as
    IPv4-mapped IPv6), an IPv6 address's /64; anything else as given."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is None:
            return str(ipaddress.IPv6Network((address, 64), strict=False))
        address = address.ipv4_mapped
    return str(address)


def sign_in(ctx: Context, username: str, password: str, *, ip: str) -> Session:
    """Check a password; returns a new session. Raises LoginRateLimited when this network
    must still wait (see the module docstring), LoginRefused otherwise (a disabled user is
    refused like a wrong password).

    Effects: a failure is stored (login_failures); a success clears the failures of this
    network against this account and stores the session (admin_sessions)."""
    now = ctx.now()
    username = username.strip().lower()[:320]
    ip = network_of(ip)
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
                    "too many failed sign-ins from this network; try again in "
                    f"{seconds} second{'s' if seconds != 1 else ''}",
                    seconds,
                )
        account = store.get_admin(tx, username)
        ok = password_ok(account.password_hash if account else _DUMMY_HASH, password)
        ok = ok and account is not None and account.disabled_at is None
        if account is None or not ok:
            store.record_login_failure(tx, username, ip, now=now)
        else:
            store.clear_login_failures(tx, username=username, ip=ip)
            token = secrets.token_urlsafe(32)
            expires = now + SESSION_LIFETIME
            store.prune_sessions(tx, now=now)
            store.insert_session(tx, token_hash(token), account.id, now=now, expires=expires)
    if account is None or not ok:  # raised after the commit, so the failure is counted
        raise LoginRefused("wrong username or password")
    return Session(
        account.id, account.username, token, int(expires.timestamp()), account.role, account.locale
    )


def sign_out(ctx: Context, session: Session) -> None:
    """End the session on the server. Effects: its admin_sessions row is deleted."""
    with ctx.db.begin() as tx:
        store.delete_session(tx, token_hash(session.nonce))


def live_sessions(ctx: Context, session: Session) -> list[store.SessionRow]:
    """The signed-in user's live sessions (each can be signed out)."""
    with ctx.db.connect() as conn:
        return store.sessions_of(conn, session.admin_id, now=ctx.now())


def end_session(ctx: Context, session: Session, ref: str) -> None:
    """Sign out one of the user's own sessions (`ref` from `live_sessions`); raises
    NotFound when the user has no such session. Effects: that admin_sessions row deleted."""
    with ctx.db.begin() as tx:
        if not store.delete_session_of(tx, session.admin_id, ref[:64]):
            raise NotFound("no such session (already signed out or expired)")


def change_password(ctx: Context, session: Session, current: str, new: str) -> int:
    """Set a new password for the session's account after checking the current one; every
    other session of the account ends. Returns how many ended. Raises LoginRefused when the
    current password is wrong, ClearpixelError when the new one is too short.

    Effects: admin_accounts.password_hash; admin_sessions rows but this one deleted."""
    check_password_strength(new)
    with ctx.db.begin() as tx:
        account = store.get_admin_by_id(tx, session.admin_id)
        if account is None or not password_ok(account.password_hash, current):
            raise LoginRefused("the current password is wrong")
        store.set_password_hash(tx, account.id, hasher.hash(new))
        return store.delete_sessions(tx, account.id, keep=token_hash(session.nonce))


def check_password_strength(password: str) -> None:
    if len(password) < 8:
        raise ClearpixelError("a password must have at least 8 characters")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_ok(stored: str, given: str) -> bool:
    try:
        return hasher.verify(stored, given)
    except (VerificationError, InvalidHashError):
        return False


def _mac(key: bytes, payload: str) -> str:
    digest = hmac_sha256(key, f"admin-session|{payload}".encode())
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def session_cookie(ctx: Context, session: Session) -> str:
    """The cookie value: the session's token and its HMAC."""
    return f"{session.nonce}.{_mac(ctx.settings.signing_keys()[0], session.nonce)}"


def read_session(ctx: Context, cookie: str | None) -> Session | None:
    """The live session a cookie names, or None when it is missing, forged, expired or
    ended (signed out, password changed, user disabled)."""
    if not cookie or cookie.count(".") != 1 or len(cookie) > 200:
        return None
    token, mac = cookie.split(".")
    if not any(same_mac(_mac(key, token), mac) for key in ctx.settings.signing_keys()):
        return None
    with ctx.db.connect() as conn:
        found = store.live_session(conn, token_hash(token), now=ctx.now())
    if found is None:
        return None
    account, expires = found
    return Session(
        account.id, account.username, token, int(expires.timestamp()), account.role, account.locale
    )


def csrf_token(ctx: Context, nonce: str) -> str:
    """A fresh CSRF form token bound to a session (or pre-session) nonce."""
    return csrf.form_token(ctx.settings.signing_keys(), nonce, CSRF_PURPOSE, now=ctx.now())


def csrf_ok(ctx: Context, nonce: str | None, token: str | None) -> bool:
    keys = ctx.settings.signing_keys()
    return csrf.form_token_ok(keys, nonce, CSRF_PURPOSE, token, now=ctx.now())
