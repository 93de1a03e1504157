"""HMAC-SHA-256, the one message authentication code the platform signs with: tokens in
URLs, webhook signatures, CSRF tokens, admin session cookies and the keys kept for erased
addresses. Comparisons are constant-time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """The HMAC-SHA-256 of `message` under `key` (32 bytes)."""
    return hmac.digest(key, message, "sha256")


def same_mac(expected: bytes | str, given: bytes | str) -> bool:
    """Whether two MACs are equal, in time that does not depend on where they differ."""
    if isinstance(expected, str) and isinstance(given, str):
        return hmac.compare_digest(expected, given)
    if isinstance(expected, bytes) and isinstance(given, bytes):
        return hmac.compare_digest(expected, given)
    return False


def any_key_signed(keys: Iterable[bytes], message: bytes, given: bytes, *, size: int = 32) -> bool:
    """Whether `given` is the HMAC-SHA-256 of `message`, cut to `size` bytes, under one of
    `keys` (key rotation: sign with the first, accept all)."""
    return any(same_mac(hmac_sha256(key, message)[:size], given) for key in keys)


def any_state_signed(
    states: Iterable[tuple[Any, Any]], message: bytes, given: bytes, *, size: int = 32
) -> bool:
    """`any_key_signed` for keys given as their `hmac_sha256_states`: the same HMAC, without
    hashing each key again for every message (the hit path verifies a token per request)."""
    for inner, outer in states:
        h = inner.copy()
        h.update(message)
        o = outer.copy()
        o.update(h.digest())
        if hmac.compare_digest(o.digest()[:size], given):
            return True
    return False


def hmac_sha256_states(key: bytes) -> tuple[Any, Any]:
    """SHA-256 states after absorbing the HMAC inner and outer padded keys (RFC 2104), so
    many messages are signed under one key without hashing the key each time:
    `outer.copy().update(inner.copy().update(m).digest())` gives `hmac_sha256(key, m)`."""
    if len(key) > hashlib.sha256().block_size:
        key = hashlib.sha256(key).digest()
    key = key.ljust(hashlib.sha256().block_size, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer
