"""Amazon SES bounce and complaint notifications, delivered by SNS to
`POST /webhooks/bounce/ses`.

The SNS message is verified first (`deliverability/sns.py`: topic, age, certificate,
signature); nothing is read or recorded before. Then, by SNS type:

- `SubscriptionConfirmation`: confirmed by visiting its SubscribeURL (an SNS URL only); when
  that fails the log says how to confirm by hand;
- `UnsubscribeConfirmation`: logged;
- `Notification`: its `Message` is an SES event (`notificationType`, or `eventType` for a
  configuration set's event destination). `Bounce`: `Permanent` is hard, `Transient` and
  `Undetermined` soft, one event per bounced recipient with SES's `bounceSubType`, `status`
  and `diagnosticCode` kept; `Complaint`: one complaint per complained recipient, with the
  feedback type kept; `Delivery` and anything else: nothing.

Whom an event is about: a valid VERP token (`domain.bounces.verp_token`) in the envelope
sender SES reports (`mail.source`) or in a `Return-Path` of the original headers
(`mail.headers`, when the SES identity includes them) names the campaign and the contact;
without one the event stands for the address alone, as for the other relays (SNS is
authenticated).

Each event carries SES's own time of the bounce or complaint, and one already recorded is not
recorded again: SNS delivers at least once and retries, and a soft bounce must count once.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from clearpixel.context import Context
from clearpixel.deliverability import bounces, sns
from clearpixel.domain.bounces import BounceEvent, BounceKind, enhanced_status, verp_token
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.tokens import Token, TokenError

log = logging.getLogger("clearpixel.bounces")

BOUNCE_KINDS = {
    "Permanent": BounceKind.HARD,
    "Transient": BounceKind.SOFT,
    "Undetermined": BounceKind.SOFT,
}
MAX_RECIPIENTS = 100
SOURCE = "webhook:ses"


def receive_ses(
    ctx: Context, body: bytes, *, certificates: sns.Certificates = sns.CERTIFICATES
) -> list[BounceEvent]:
    """Verify one SNS delivery and return the bounce and complaint events it reports (none
    for a subscription message, a delivery or another SES event). Raises SnsRefused (a
    BadWebhookSignature) for a message that must not be trusted, ClearpixelError for one
    that is authentic but not understood; the caller records the events."""
    settings = ctx.settings
    fields = sns.parse(body)
    message = sns.verify(
        fields,
        topics=settings.ses_topic_arns,
        host_pattern=settings.ses_sns_host_pattern,
        max_age=timedelta(seconds=settings.ses_max_age_seconds),
        now=ctx.now(),
        certificates=certificates,
    )
    if message.type == sns.SUBSCRIPTION:
        _confirm(message, host_pattern=settings.ses_sns_host_pattern, fetch=certificates.fetch)
        return []
    if message.type == sns.UNSUBSCRIBE:
        log.warning("SNS topic %s unsubscribed this endpoint", message.topic_arn)
        return []
    return ses_events(ctx, message.message, sns_message_id=message.message_id)


def _confirm(message: sns.SnsMessage, *, host_pattern: str, fetch: sns.Fetch) -> None:
    try:
        sns.confirm_subscription(message, host_pattern=host_pattern, fetch=fetch)
    except (OSError, sns.SnsRefused) as exc:
        log.warning(
            "could not confirm the SNS subscription to %s (%s); confirm it by hand: open %s "
            "in a browser, or in the SNS console choose the subscription and 'Confirm "
            "subscription' with that URL",
            message.topic_arn,
            exc,
            message.subscribe_url,
        )
        return
    log.info("confirmed the SNS subscription to %s", message.topic_arn)


def ses_events(ctx: Context, text: str, *, sns_message_id: str = "") -> list[BounceEvent]:
    """The bounce and complaint events of one SES notification (an SNS `Message`)."""
    try:
        event: Any = json.loads(text)
    except ValueError:
        raise ClearpixelError("the SNS Message is not an SES notification (not JSON)") from None
    if not isinstance(event, dict):
        raise ClearpixelError("the SNS Message is not an SES notification")
    kind_name = event.get("notificationType") or event.get("eventType")
    mail = _object(event, "mail")
    token = _token(ctx, mail)
    common = {
        "ses_message_id": str(mail.get("messageId", ""))[:100],
        "sns_message_id": sns_message_id[:100],
    }
    if kind_name == "Bounce":
        bounce = _object(event, "bounce")
        kind = BOUNCE_KINDS.get(str(bounce.get("bounceType", "")))
        if kind is None:
            raise ClearpixelError("an SES bounce needs a bounceType: Permanent or Transient")
        evidence = {
            **common,
            "bounce_type": str(bounce.get("bounceType")),
            "bounce_subtype": str(bounce.get("bounceSubType", ""))[:60],
            "feedback_id": str(bounce.get("feedbackId", ""))[:100],
            "reporting_mta": str(bounce.get("reportingMTA", ""))[:200],
        }
        at = bounces.reported_time(ctx, bounce.get("timestamp"))
        return [
            _bounce(at, kind, recipient, token, evidence)
            for recipient in _recipients(bounce, "bouncedRecipients")
        ]
    if kind_name == "Complaint":
        complaint = _object(event, "complaint")
        feedback = str(complaint.get("complaintFeedbackType", ""))[:60]
        evidence = {
            **common,
            "feedback_type": feedback,
            "complaint_subtype": str(complaint.get("complaintSubType") or "")[:60],
            "feedback_id": str(complaint.get("feedbackId", ""))[:100],
            "user_agent": str(complaint.get("userAgent", ""))[:200],
        }
        diagnostic = f"feedback report: {feedback or 'unspecified'}"
        at = bounces.reported_time(ctx, complaint.get("timestamp"))
        return [
            _event(at, BounceKind.COMPLAINT, r["emailAddress"], token, "", diagnostic, evidence)
            for r in _recipients(complaint, "complainedRecipients")
        ]
    return []


def _bounce(
    at: datetime,
    kind: BounceKind,
    recipient: dict[str, Any],
    token: Token | None,
    evidence: dict[str, str],
) -> BounceEvent:
    diagnostic = str(recipient.get("diagnosticCode", ""))[:1000]
    status = enhanced_status(str(recipient.get("status", ""))) or enhanced_status(diagnostic)
    action = str(recipient.get("action", ""))[:20]
    evidence = {**evidence, **({"action": action} if action else {})}
    email = str(recipient["emailAddress"])
    return _event(at, kind, email, token, status, diagnostic, evidence)


def _event(
    at: datetime,
    kind: BounceKind,
    email: str,
    token: Token | None,
    status: str,
    diagnostic: str,
    evidence: dict[str, str],
) -> BounceEvent:
    return BounceEvent(
        kind=kind,
        email=email,
        source=SOURCE,
        at=at,
        status=status,
        diagnostic=diagnostic,
        campaign_id=(token.campaign_id or None) if token else None,
        contact_id=token.contact_id if token else None,
        evidence=evidence,
    )


def _object(event: dict[str, Any], key: str) -> dict[str, Any]:
    value = event.get(key)
    if not isinstance(value, dict):
        raise ClearpixelError(f'an SES notification needs a "{key}" object')
    return value


def _recipients(section: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = section.get(key)
    if not isinstance(items, list) or not items:
        raise ClearpixelError(f'an SES notification needs "{key}"')
    if len(items) > MAX_RECIPIENTS:
        raise ClearpixelError(f"at most {MAX_RECIPIENTS} {key} per notification")
    for item in items:
        address = item.get("emailAddress") if isinstance(item, dict) else None
        if not isinstance(address, str) or "@" not in address or len(address) > 320:
            raise ClearpixelError(f'each of "{key}" needs an "emailAddress"')
    return items


def _token(ctx: Context, mail: dict[str, Any]) -> Token | None:
    """The (campaign, contact) named by a VERP address in `mail.source` or a quoted
    `Return-Path` header; None without one."""
    domain = ctx.settings.bounce_domain
    if not domain:
        return None
    candidates = [mail.get("source")]
    headers = mail.get("headers")
    if isinstance(headers, list):
        candidates += [
            h.get("value")
            for h in headers
            if isinstance(h, dict) and str(h.get("name", "")).lower() == "return-path"
        ]
    for candidate in candidates:
        if not isinstance(candidate, str):
            continue
        try:
            return verp_token(ctx.signer, candidate, domain=domain)
        except TokenError:
            continue
    return None
