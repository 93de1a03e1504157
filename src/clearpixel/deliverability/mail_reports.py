"""Reading the reports mail servers send back, with the standard `email` package:

- delivery status notifications (RFC 3464, `multipart/report; report-type=delivery-status`):
  the per-recipient blocks of the `message/delivery-status` part give the action, the status
  code (kept) and the diagnostic (kept);
- feedback reports (ARF, RFC 5965, `report-type=feedback-report`): the
  `message/feedback-report` part's `Feedback-Type` (abuse, fraud, virus, other) makes a
  complaint; `not-spam` is none.

A report is attributed only through a valid VERP token: the envelope recipient of the report
(a DSN goes to the Return-Path), or the `Return-Path` of the original message a report quotes
(ARF). The addresses a report names are never trusted on their own: anybody can send mail to
the bounce domain, and a forged report must suppress nobody.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser

from clearpixel.domain.bounces import BounceKind, classify_dsn, enhanced_status, verp_token
from clearpixel.domain.tokens import Token, TokenError, TokenSigner

COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus", "other"})
MAX_REPORT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ParsedReport:
    """What one received message says, before it is attributed to a contact."""

    kind: BounceKind | None  # None: not a bounce or complaint (or delivered, relayed ...)
    status: str
    diagnostic: str
    evidence: dict[str, str]
    token: Token | None  # the (campaign, contact) a valid VERP token names
    note: str  # why nothing will be recorded, or what the report is


def parse_report(
    data: bytes, *, envelope_recipients: Iterable[str], signer: TokenSigner, domain: str
) -> ParsedReport:
    """Parse one message received for the bounce domain."""
    if len(data) > MAX_REPORT_BYTES:
        return ParsedReport(None, "", "", {}, None, "too large")
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    report_type = (message.get_param("report-type") or "") if message.is_multipart() else ""
    report_type = str(report_type).lower()
    if report_type == "feedback-report":
        kind, status, diagnostic, evidence = _feedback(message)
    elif report_type == "delivery-status":
        kind, status, diagnostic, evidence = _delivery_status(message)
    else:
        return ParsedReport(None, "", "", {}, None, "not a DSN or feedback report")
    candidates = [*envelope_recipients, *_quoted_return_paths(message)]
    token = _first_valid(signer, candidates, domain)
    if token is None:
        return ParsedReport(kind, status, diagnostic, evidence, None, "no valid VERP token")
    return ParsedReport(kind, status, diagnostic, evidence, token, report_type)


def _delivery_status(message: Message) -> tuple[BounceKind | None, str, str, dict[str, str]]:
    """The most serious per-recipient block (we send one recipient per message)."""
    blocks: list[Message] = []
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                blocks.extend(b for b in payload if isinstance(b, Message))
            elif isinstance(payload, str):
                blocks.extend(_blocks(payload))
    best: tuple[BounceKind | None, str, str, dict[str, str]] = (None, "", "", {})
    for block in blocks[1:] if len(blocks) > 1 else blocks:
        action = str(block.get("Action", ""))
        status = enhanced_status(str(block.get("Status", "")))
        kind = classify_dsn(action, status)
        if kind is None:
            continue
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        evidence = {
            "action": action.strip().lower(),
            "final_recipient": str(block.get("Final-Recipient", "")).strip()[:320],
            "reporting_mta": str(blocks[0].get("Reporting-MTA", "")).strip()[:200],
        }
        if best[0] is None or (best[0] is BounceKind.SOFT and kind is BounceKind.HARD):
            best = (kind, status, diagnostic[:1000], evidence)
    return best


def _blocks(text: str) -> list[Message]:
    parser = HeaderParser()
    return [parser.parsestr(chunk) for chunk in text.replace("\r\n", "\n").split("\n\n")]


def _feedback(message: Message) -> tuple[BounceKind | None, str, str, dict[str, str]]:
    for part in message.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            fields: Message = payload[0]
        else:
            fields = HeaderParser().parsestr(str(payload).replace("\r\n", "\n"))
        feedback_type = str(fields.get("Feedback-Type", "")).strip().lower()
        evidence = {
            "feedback_type": feedback_type,
            "user_agent": str(fields.get("User-Agent", "")).strip()[:200],
            "original_rcpt_to": str(fields.get("Original-Rcpt-To", "")).strip()[:320],
            "reported_by": str(message.get("From", "")).strip()[:320],
        }
        kind = BounceKind.COMPLAINT if feedback_type in COMPLAINT_TYPES else None
        return kind, "", f"feedback report: {feedback_type}", evidence
    return None, "", "", {}


def _quoted_return_paths(message: Message) -> list[str]:
    """Return-Path headers of the original message a report quotes (message/rfc822 or
    text/rfc822-headers)."""
    found: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            quoted = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(quoted, Message):
                found.extend(str(v) for v in quoted.get_all("Return-Path", []))
        elif kind == "text/rfc822-headers":
            headers = HeaderParser().parsestr(str(part.get_payload(decode=False)))
            found.extend(str(v) for v in headers.get_all("Return-Path", []))
    return found


def _first_valid(signer: TokenSigner, candidates: list[str], domain: str) -> Token | None:
    for candidate in candidates:
        try:
            return verp_token(signer, candidate, domain=domain)
        except TokenError:
            continue
    return None
