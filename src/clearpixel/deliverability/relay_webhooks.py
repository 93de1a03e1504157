"""Bounces and complaints reported by a relay over HTTP: `POST /webhooks/bounce/generic`.

The body is JSON, signed like our own outgoing webhooks (`domain.webhooks`) with a secret of
`CLEARPIXEL_BOUNCE_WEBHOOK_SECRETS`:

    {"events": [{"type": "bounce", "bounce_type": "hard", "recipient": "ada@example.org",
                 "return_path": "b...@bounces.example.org", "status": "5.1.1",
                 "diagnostic": "550 5.1.1 user unknown"},
                {"type": "complaint", "recipient": "bob@example.org"}]}

Nothing is read before the signature and timestamp check out; a request that fails it records
nothing. Each event carries the request's signed timestamp as its time, and one already
recorded is skipped, so a captured request replayed within the replay window records nothing
new: a soft bounce cannot be counted up to a suppression by replaying it.

A `return_path` carrying a valid VERP token attributes the event to its campaign and
contact; without one the event stands for the address alone (the relay is authenticated).

`/webhooks/bounce/postmark` (`postmark.py`) and `/webhooks/bounce/ses` (`ses.py`, Amazon SES
through SNS) authenticate and read their providers' own formats.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from clearpixel.context import Context
from clearpixel.deliverability.bounces import record_once
from clearpixel.deliverability.postmark import check_basic_auth, postmark_event
from clearpixel.deliverability.ses import receive_ses
from clearpixel.domain.bounces import BounceEvent, BounceKind, enhanced_status, verp_token
from clearpixel.domain.errors import ClearpixelError, NotFound
from clearpixel.domain.tokens import TokenError
from clearpixel.domain.webhooks import verify

PROVIDERS = ("generic", "postmark", "ses")
MAX_BODY = 1024 * 1024
MAX_EVENTS = 1000


class UnknownProvider(NotFound):
    """No webhook format of that name."""


def receive_signed(
    ctx: Context,
    provider: str,
    body: bytes,
    *,
    timestamp: str,
    signature: str,
    authorization: str = "",
) -> int:
    """Authenticate, parse and record a relay's report; returns how many events were
    recorded (an event already recorded, from a replay or a retry, is not recorded again).
    Raises BadWebhookSignature (nothing recorded), UnknownProvider, or
    ClearpixelError for a body that is authentic but malformed (nothing recorded either)."""
    if provider == "postmark":
        check_basic_auth(ctx.settings.postmark_webhook_auth, authorization)
        event = postmark_event(ctx, body)
        return 0 if event is None else record_once(ctx, [event])
    if provider == "ses":
        return record_once(ctx, receive_ses(ctx, body))
    secrets = [s.encode() for s in ctx.settings.bounce_webhook_secrets]
    verify(secrets, timestamp=timestamp, header=signature, body=body, now=ctx.now().timestamp())
    if provider not in PROVIDERS:
        known = ", ".join(PROVIDERS)
        raise UnknownProvider(f"no bounce webhook format {provider!r} (known: {known})")
    signed_at = datetime.fromtimestamp(int(timestamp), UTC)  # checked by verify()
    return record_once(ctx, [_event(ctx, item, provider, signed_at) for item in _items(body)])


def _items(body: bytes) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ClearpixelError("the body is not JSON") from None
    items = parsed.get("events") if isinstance(parsed, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ClearpixelError('expected {"events": [{...}, ...]}')
    if len(items) > MAX_EVENTS:
        raise ClearpixelError(f"at most {MAX_EVENTS} events per request")
    return items


def _event(ctx: Context, item: dict[str, Any], provider: str, at: datetime) -> BounceEvent:
    kind_name = str(item.get("type", ""))
    if kind_name == "complaint":
        kind = BounceKind.COMPLAINT
    elif kind_name == "bounce" and item.get("bounce_type") in ("hard", "soft"):
        kind = BounceKind(str(item["bounce_type"]))
    else:
        raise ClearpixelError(
            'each event needs "type": "complaint", or "bounce" with "bounce_type" hard or soft'
        )
    recipient = item.get("recipient")
    if not isinstance(recipient, str) or "@" not in recipient or len(recipient) > 320:
        raise ClearpixelError('each event needs a "recipient" email address')
    campaign_id = contact_id = None
    return_path = item.get("return_path")
    if isinstance(return_path, str) and ctx.settings.bounce_domain:
        try:
            token = verp_token(ctx.signer, return_path, domain=ctx.settings.bounce_domain)
            campaign_id, contact_id = token.campaign_id or None, token.contact_id
        except TokenError:
            pass
    diagnostic = str(item.get("diagnostic", ""))[:1000]
    status = enhanced_status(str(item.get("status", ""))) or enhanced_status(diagnostic)
    return BounceEvent(
        kind=kind,
        email=recipient,
        source=f"webhook:{provider}",
        at=at,
        status=status,
        diagnostic=diagnostic,
        campaign_id=campaign_id,
        contact_id=contact_id,
    )
