"""The one CSRF system: a token is the HMAC of what it is bound to (a page's signed token, an
admin session's secret, a sign-in page's pre-session nonce), what the form does, and a
per-page nonce (issue time + random). A POST must send the nonce and MAC back; only a page
the server rendered for that binding has them. Keys rotate with the installation's keys
(sign with the first, accept any); a token older than a day is refused.

Public pages carry the nonce and MAC as two fields (`issue`/`check`); admin forms carry
them as one field (`form_token`/`form_token_ok`)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from clearpixel.domain.mac import hmac_sha256, same_mac

MAX_AGE_SECONDS = 24 * 3600
CLOCK_SKEW_SECONDS = 300
_FIELD_SEP = "~"  # never in a nonce (digits, '.', URL-safe base64) nor in a MAC (hex)


def _mac(key: bytes, token: str, purpose: str, nonce: str) -> str:
    sub_key = hmac_sha256(key, b"clearpixel csrf v1")
    message = "\x00".join((token, purpose, nonce)).encode()
    return hmac_sha256(sub_key, message).hex()[:32]


def issue(keys: Sequence[bytes], token: str, purpose: str, *, now: datetime) -> tuple[str, str]:
    """A fresh (nonce, csrf) pair for one rendered page."""
    nonce = f"{int(now.timestamp())}.{secrets.token_urlsafe(12)}"
    return nonce, _mac(keys[0], token, purpose, nonce)


def check(
    keys: Sequence[bytes], token: str, purpose: str, nonce: str, csrf: str, *, now: datetime
) -> bool:
    """True when (nonce, csrf) were issued by us for this token and purpose, recently."""
    if not token or not nonce or not csrf or len(nonce) > 64 or len(csrf) > 64:
        return False
    issued, _, _rand = nonce.partition(".")
    try:
        age = now.timestamp() - int(issued)
    except ValueError:
        return False
    if age > MAX_AGE_SECONDS or age < -CLOCK_SKEW_SECONDS:
        return False
    return any(same_mac(_mac(key, token, purpose, nonce), csrf) for key in keys)


def form_token(keys: Sequence[bytes], bound_to: str, purpose: str, *, now: datetime) -> str:
    """One form field holding a fresh (nonce, csrf) pair bound to `bound_to`."""
    return _FIELD_SEP.join(issue(keys, bound_to, purpose, now=now))


def form_token_ok(
    keys: Sequence[bytes], bound_to: str | None, purpose: str, value: str | None, *, now: datetime
) -> bool:
    """True when `value` is a `form_token` we issued for this binding and purpose, recently."""
    if not bound_to or not value or value.count(_FIELD_SEP) != 1:
        return False
    nonce, csrf = value.split(_FIELD_SEP)
    return check(keys, bound_to, purpose, nonce, csrf, now=now)


def new_nonce() -> str:
    """A random binding for a page shown before any session exists (the sign-in page)."""
    return secrets.token_urlsafe(16)
