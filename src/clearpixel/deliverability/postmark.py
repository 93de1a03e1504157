"""Postmark's bounce and spam-complaint webhooks (`POST /webhooks/bounce/postmark`).

Postmark does not sign its webhooks; it authenticates them with HTTP Basic credentials put in
the webhook URL (`https://user:password@your-host/webhooks/bounce/postmark`). Set the same
`user:password` in `CLEARPIXEL_POSTMARK_WEBHOOK_AUTH`; a request without them gets 401 and
records nothing. One JSON object per request: `RecordType` `Bounce` (its `Type` says hard or
soft) or `SpamComplaint`. Postmark sends with its own return path, so the event stands for the
address (`Email`). An event carries Postmark's own time (`BouncedAt`), so a retried or replayed
request names the same event and is recorded once (`deliverability.bounces.record_once`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from typing import Any

from clearpixel.context import Context
from clearpixel.deliverability import bounces
from clearpixel.domain.bounces import BounceEvent, BounceKind, enhanced_status
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.webhooks import BadWebhookSignature

HARD = frozenset({"HardBounce", "BadEmailAddress"})
SOFT = frozenset({"SoftBounce", "Transient", "DnsError"})
COMPLAINT = frozenset({"SpamComplaint", "SpamNotification"})


def check_basic_auth(expected: str, authorization: str) -> None:
    """Raise BadWebhookSignature unless `authorization` is HTTP Basic with `expected`."""
    if not expected:
        raise BadWebhookSignature("no Postmark webhook credentials are configured")
    scheme, _, value = authorization.partition(" ")
    try:
        given = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        given = b""
    if scheme.lower() != "basic" or not hmac.compare_digest(given, expected.encode()):
        raise BadWebhookSignature("wrong or missing credentials")


def postmark_event(ctx: Context, body: bytes) -> BounceEvent | None:
    """The event one Postmark webhook body reports (None: a record type that is not a bounce
    or complaint, e.g. an auto-responder)."""
    try:
        item: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ClearpixelError("the body is not JSON") from None
    if not isinstance(item, dict):
        raise ClearpixelError("expected one JSON object")
    record_type, kind_name = str(item.get("RecordType", "")), str(item.get("Type", ""))
    if record_type == "SpamComplaint" or kind_name in COMPLAINT:
        kind = BounceKind.COMPLAINT
    elif kind_name in HARD:
        kind = BounceKind.HARD
    elif kind_name in SOFT:
        kind = BounceKind.SOFT
    else:
        return None
    email = item.get("Email")
    if not isinstance(email, str) or "@" not in email or len(email) > 320:
        raise ClearpixelError('a Postmark record needs an "Email" address')
    details = " ".join(str(item.get(k, "")) for k in ("Description", "Details")).strip()
    return BounceEvent(
        kind=kind,
        email=email,
        source="webhook:postmark",
        at=bounces.reported_time(ctx, item.get("BouncedAt")),
        status=enhanced_status(str(item.get("Details", ""))),
        diagnostic=details[:1000],
        evidence={"postmark_type": kind_name, "postmark_id": str(item.get("ID", ""))[:40]},
    )
