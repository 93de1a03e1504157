"""CSRF tokens without server sessions: HMAC of the page's signed token, what the form does,
and a per-page nonce (issue time + random). A POST must send the nonce and MAC back; only a
page the server rendered for that token has them. Keys rotate with the token keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

MAX_AGE_SECONDS = 24 * 3600
CLOCK_SKEW_SECONDS = 300


def _mac(key: bytes, token: str, purpose: str, nonce: str) -> str:
    sub_key = hmac.new(key, b"clearpixel csrf v1", hashlib.sha256).digest()
    message = "\x00".join((token, purpose, nonce)).encode()
    return hmac.new(sub_key, message, hashlib.sha256).hexdigest()[:32]


def issue(keys: Sequence[bytes], token: str, purpose: str, *, now: datetime) -> tuple[str, str]:
    """A fresh (nonce, csrf) pair for one rendered page."""
    nonce = f"{int(now.timestamp())}.{secrets.token_urlsafe(12)}"
    return nonce, _mac(keys[0], token, purpose, nonce)


def check(
    keys: Sequence[bytes], token: str, purpose: str, nonce: str, csrf: str, *, now: datetime
) -> bool:
    """True when (nonce, csrf) were issued by us for this token and purpose, recently."""
    if not nonce or not csrf or len(nonce) > 64 or len(csrf) > 64:
        return False
    issued, _, _rand = nonce.partition(".")
    try:
        age = now.timestamp() - int(issued)
    except ValueError:
        return False
    if age > MAX_AGE_SECONDS or age < -CLOCK_SKEW_SECONDS:
        return False
    return any(hmac.compare_digest(_mac(key, token, purpose, nonce), csrf) for key in keys)
