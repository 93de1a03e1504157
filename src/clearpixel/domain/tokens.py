"""Signed, compact tokens for every per-recipient URL (DESIGN §5).

A token is `base64url(header | varint fields | HMAC-SHA-256[:12])`. The header byte holds the
format version and the token kind, so a click token can never stand in for a consent token.
The second byte names the key (first byte of its SHA-256), which gives key rotation: sign with
the first key, accept any. Tokens carry ids, never the email address, and verify without the
database. Consent and signup-confirmation tokens carry an expiry; the others do not, because
withdrawal must work from any email ever sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from itertools import repeat
from typing import Any

from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.mac import any_state_signed, hmac_sha256, hmac_sha256_states

FORMAT_VERSION = 1
MAC_BYTES = 12
MIN_KEY_BYTES = 32


class TokenKind(IntEnum):
    PIXEL = 1
    DELIVERABILITY = 2
    CLICK = 3
    CONSENT = 4
    PREFERENCES = 5
    UNSUBSCRIBE = 6
    SIGNUP = 7  # the link of a signup confirmation email: one pending signup
    BOUNCE = 8  # the envelope sender (VERP) of one message: campaign and contact


EXPIRING = frozenset({TokenKind.CONSENT, TokenKind.SIGNUP})


class TokenError(ClearpixelError, ValueError):
    """A token that must not be trusted; `reason` is a stable code for logs and metrics."""

    reason = "malformed"


class MalformedToken(TokenError):
    reason = "malformed"


class BadSignature(TokenError):
    reason = "bad_signature"


class WrongKind(TokenError):
    reason = "wrong_kind"


class ExpiredToken(TokenError):
    reason = "expired"


@dataclass(frozen=True, slots=True)
class Token:
    """The fields a token proves. Unused fields are 0 for a kind that does not carry them."""

    kind: TokenKind
    contact_id: int
    campaign_id: int = 0
    purposes: int = 0
    link_id: int = 0
    expires_at: int = 0  # unix seconds, expiring kinds only
    signup_id: int = 0


_FIELDS: dict[TokenKind, tuple[str, ...]] = {
    TokenKind.PIXEL: ("campaign_id", "contact_id", "purposes"),
    TokenKind.DELIVERABILITY: ("campaign_id", "contact_id"),
    TokenKind.CLICK: ("campaign_id", "contact_id", "link_id"),
    TokenKind.CONSENT: ("campaign_id", "contact_id", "expires_at"),
    TokenKind.PREFERENCES: ("contact_id",),
    TokenKind.UNSUBSCRIBE: ("contact_id",),
    TokenKind.SIGNUP: ("signup_id", "expires_at"),
    TokenKind.BOUNCE: ("campaign_id", "contact_id"),
}

_KINDS = {int(kind): kind for kind in TokenKind}
_ARGS = ("contact_id", "campaign_id", "purposes", "link_id", "expires_at", "signup_id")
# per kind, where each encoded field goes among Token's arguments after `kind`
_FIELD_ARGS = {kind: tuple(_ARGS.index(name) for name in names) for kind, names in _FIELDS.items()}


def _put_varint(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError("token fields are non-negative")
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return


def _get_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise MalformedToken("truncated field")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text or len(text) > 200 or not text.isascii():
        raise MalformedToken("bad length or characters")
    spelled = text.encode("ascii")
    try:
        raw = binascii.a2b_base64(spelled.translate(_FROM_URLSAFE) + b"=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedToken("not base64url") from exc
    # one canonical spelling per token: no spare bits to flip, no character skipped
    if binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=") != spelled:
        raise MalformedToken("not canonical base64url")
    return raw


_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_ONE_BYTE = tuple(bytes((i,)) for i in range(0x80))  # varints of 0..127


def _varint(value: int) -> bytes:
    out = bytearray()
    _put_varint(out, value)
    return bytes(out)


def _b64encode_many(raws: list[bytes]) -> list[str]:
    """`[_b64encode(r) for r in raws]` with one translate and one decode for the lot."""
    if not raws:
        return []
    joined = b" ".join([binascii.b2a_base64(raw, newline=False) for raw in raws])
    return joined.translate(_URLSAFE).replace(b"=", b"").decode("ascii").split(" ")


class TokenSigner:
    """Signs with the first key and verifies with any key of the list (key rotation)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one secret key is required")
        for key in keys:
            if len(key) < MIN_KEY_BYTES:
                raise ValueError(f"secret keys must have at least {MIN_KEY_BYTES} bytes")
        self._keys = [(hashlib.sha256(key).digest()[0], key) for key in keys]
        self._inner, self._outer = hmac_sha256_states(keys[0])
        # the HMAC states of every key, by key id: verifying does not hash a key again
        self._states: dict[int, list[tuple[Any, Any]]] = {}
        for key_id, key in self._keys:
            self._states.setdefault(key_id, []).append(hmac_sha256_states(key))

    def sign(self, token: Token) -> str:
        """Encode and sign `token` with the current (first) key."""
        key_id, key = self._keys[0]
        body = bytearray((FORMAT_VERSION << 4 | token.kind, key_id))
        for name in _FIELDS[token.kind]:
            _put_varint(body, getattr(token, name))
        mac = hmac_sha256(key, bytes(body))[:MAC_BYTES]
        return _b64encode(bytes(body) + mac)

    def sign_many(self, tokens: Iterable[Token]) -> list[str]:
        """`[self.sign(t) for t in tokens]`, the same strings, from precomputed HMAC states."""
        key_id = self._keys[0][0]
        inner, outer = self._inner, self._outer
        raws: list[bytes] = []
        for token in tokens:
            body = bytearray((FORMAT_VERSION << 4 | token.kind, key_id))
            for name in _FIELDS[token.kind]:
                _put_varint(body, getattr(token, name))
            h = inner.copy()
            h.update(body)
            o = outer.copy()
            o.update(h.digest())
            body += o.digest()[:MAC_BYTES]
            raws.append(bytes(body))
        return _b64encode_many(raws)

    def sign_links(
        self, *, campaign_id: int, contact_id: int, link_ids: Iterable[int]
    ) -> list[str]:
        """The CLICK tokens of one recipient, one per link id, equal to what `sign` returns.

        Each token is still a full HMAC-SHA-256 over its whole body (header, key id, campaign,
        contact and link id): the inner hash state after the common prefix is computed once
        and copied, so each token only absorbs its own link id before both finalisations.
        """
        prefix = bytearray((FORMAT_VERSION << 4 | TokenKind.CLICK, self._keys[0][0]))
        _put_varint(prefix, campaign_id)
        _put_varint(prefix, contact_id)
        head = bytes(prefix)
        inner = self._inner.copy()
        inner.update(head)
        tails = [_ONE_BYTE[i] if 0 <= i < 0x80 else _varint(i) for i in link_ids]
        # The same steps as `sign`, token by token, driven by map() so that the loop over
        # a recipient's links runs in C: copy, absorb the link id, finalise; then the outer.
        state = type(inner)
        count = len(tails)
        inners = list(map(state.copy, repeat(inner, count)))
        deque(map(state.update, inners, tails), maxlen=0)
        outers = list(map(state.copy, repeat(self._outer, count)))
        deque(map(state.update, outers, map(state.digest, inners)), maxlen=0)
        raws = [
            head + tail + mac[:MAC_BYTES]
            for tail, mac in zip(tails, map(state.digest, outers), strict=True)
        ]
        return _b64encode_many(raws)

    def verify(self, text: str, kind: TokenKind, *, now: float | None = None) -> Token:
        """Decode `text`, check its MAC in constant time, its kind and (consent) expiry.

        Raises a TokenError subclass; a token that fails is never attributed to anyone.
        `now` (unix seconds) is required to check the expiry of consent tokens.
        """
        return self.verify_one_of(text, (kind,), now=now)

    def verify_one_of(
        self, text: str, kinds: Sequence[TokenKind], *, now: float | None = None
    ) -> Token:
        """`verify` for a token that may be of any of `kinds` (a pixel URL carries either a
        personal or a deliverability token): one MAC check, whichever kind it is."""
        raw = _b64decode(text)
        if len(raw) < 2 + MAC_BYTES:
            raise MalformedToken("too short")
        body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if not any_state_signed(self._states.get(body[1], ()), body, mac, size=MAC_BYTES):
            raise BadSignature("signature does not match any key")
        if body[0] >> 4 != FORMAT_VERSION:
            raise MalformedToken("unknown format version")
        kind = _KINDS.get(body[0] & 0x0F)
        if kind is None:
            raise MalformedToken("unknown kind")
        if kind not in kinds:
            expected = " or ".join(k.name for k in kinds)
            raise WrongKind(f"expected a {expected} token, got {kind.name}")
        values = [0] * len(_ARGS)
        pos, end = 2, len(body)
        for index in _FIELD_ARGS[kind]:
            if pos < end and body[pos] < 0x80:  # a one-byte varint: most fields of most tokens
                values[index] = body[pos]
                pos += 1
            else:
                values[index], pos = _get_varint(body, pos)
        if pos != end:
            raise MalformedToken("trailing bytes")
        token = Token(kind, *values)
        if kind in EXPIRING:
            if now is None:
                raise ValueError(f"verifying a {kind.name} token needs `now`")
            if token.expires_at <= now:
                raise ExpiredToken("link expired")
        return token
