"""Signed webhooks, both ways: the signature scheme, its replay window, event types and the
retry schedule.

A request carries `Clearpixel-Timestamp: <unix seconds>` and
`Clearpixel-Signature: v1=<hex HMAC-SHA-256 of "<timestamp>.<body>" with the endpoint's
secret>`. A receiver recomputes the MAC over the exact bytes of the body, compares in constant
time, and refuses a timestamp more than `REPLAY_WINDOW` seconds from its clock, so a captured
request cannot be replayed later. Several `v1=` values (comma-separated) may be sent while a
secret is being rotated; one match is enough.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.mac import hmac_sha256, same_mac

TIMESTAMP_HEADER = "Clearpixel-Timestamp"
SIGNATURE_HEADER = "Clearpixel-Signature"
REPLAY_WINDOW = 300  # seconds either side of the receiver's clock
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=6)


class EventType(StrEnum):
    CONSENT_DECISION = "consent.decision_recorded"
    UNSUBSCRIBED = "contact.unsubscribed"
    BOUNCED = "email.bounced"
    COMPLAINED = "email.complained"
    SUPPRESSED = "address.suppressed"


class BadWebhookSignature(ClearpixelError):
    """A webhook request whose signature or timestamp must not be trusted."""


def event_types(names: list[str]) -> list[EventType]:
    """Parse event type names; raises ClearpixelError naming an unknown one."""
    known = {e.value: e for e in EventType}
    out = []
    for name in names:
        if name.strip() not in known:
            raise ClearpixelError(
                f"unknown webhook event {name.strip()!r} (known: {', '.join(known)})"
            )
        out.append(known[name.strip()])
    return out


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA-256 of `<timestamp>.<body>`."""
    return hmac_sha256(secret, b"%d." % timestamp + body).hex()


def signature_header(secret: bytes, timestamp: int, body: bytes) -> str:
    return f"v1={signature(secret, timestamp, body)}"


def verify(secrets: list[bytes], *, timestamp: str, header: str, body: bytes, now: float) -> None:
    """Raise BadWebhookSignature unless `header` carries a v1 MAC of `body` under one of
    `secrets` and `timestamp` is within the replay window of `now` (unix seconds)."""
    if not secrets:
        raise BadWebhookSignature("no webhook secret is configured")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise BadWebhookSignature("missing or malformed timestamp")
    if abs(now - int(timestamp)) > REPLAY_WINDOW:
        raise BadWebhookSignature("timestamp outside the replay window")
    given = [p.strip()[3:] for p in header.split(",") if p.strip().startswith("v1=")]
    expected = [signature(s, int(timestamp), body) for s in secrets]
    if not any(same_mac(e, g) for g in given for e in expected):
        raise BadWebhookSignature("signature does not match")


def retry_delay(attempts: int) -> timedelta | None:
    """How long to wait after the `attempts`-th failed attempt (30 s, doubling, at most
    6 h); None when the delivery is given up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    wait: timedelta = FIRST_RETRY * 2 ** max(attempts - 1, 0)
    return min(wait, LONGEST_WAIT)
