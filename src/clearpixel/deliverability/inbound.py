"""Bounces and complaints received by mail: the small SMTP receiver for the bounce domain
(`clearpixel bounces serve`, aiosmtpd), and `receive`, which turns one received message
into at most one recorded event.

The receiver accepts mail only for the bounce domain (other recipients: 550, it relays
nothing) and answers 250 to every report it accepted, attributed or not, so a sender never
retries and a forger learns nothing; an unattributable report is logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller

from clearpixel.context import Context
from clearpixel.deliverability.bounces import record
from clearpixel.deliverability.mail_reports import MAX_REPORT_BYTES, parse_report
from clearpixel.domain.bounces import BounceEvent, SuppressionReason
from clearpixel.domain.errors import ClearpixelError, NotFound
from clearpixel.store.contacts import get_contact

log = logging.getLogger("clearpixel.bounces")


@dataclass(frozen=True, slots=True)
class Received:
    """What one received message did: the event kind recorded (None: nothing) and why."""

    kind: str | None
    email: str | None
    suppressed: SuppressionReason | None
    note: str


def receive(ctx: Context, data: bytes, *, envelope_recipients: list[str]) -> Received:
    """Parse a message sent to the bounce domain and record what it reports about the
    contact its VERP token names. Effects: at most one bounce event, its suppression and
    webhook events (see `bounces.record_in`)."""
    domain = ctx.settings.bounce_domain
    parsed = parse_report(
        data, envelope_recipients=envelope_recipients, signer=ctx.signer, domain=domain
    )
    if parsed.kind is None or parsed.token is None:
        return Received(None, None, None, parsed.note)
    try:
        with ctx.db.connect() as conn:
            contact = get_contact(conn, parsed.token.contact_id)
    except NotFound:
        return Received(None, None, None, "the contact no longer exists")
    source = "arf" if parsed.note == "feedback-report" else "dsn"
    event = BounceEvent(
        kind=parsed.kind,
        email=contact.email,
        source=source,
        at=ctx.now(),
        status=parsed.status,
        diagnostic=parsed.diagnostic,
        campaign_id=parsed.token.campaign_id or None,
        contact_id=contact.id,
        evidence=parsed.evidence,
    )
    (suppressed,) = record(ctx, [event])
    return Received(parsed.kind.value, contact.email, suppressed, source)


class BounceHandler:
    """aiosmtpd handler for the bounce domain."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.domain = ctx.settings.bounce_domain.lower()

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.rpartition("@")[2].lower() != self.domain:
            return "550 5.7.1 this server only receives mail for its bounce domain"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        data = envelope.original_content or envelope.content
        raw = data if isinstance(data, bytes) else str(data).encode("utf-8", "replace")
        try:
            outcome = await asyncio.to_thread(
                receive, self.ctx, raw, envelope_recipients=list(envelope.rcpt_tos)
            )
        except ClearpixelError as exc:
            log.warning("report from %s not recorded: %s", envelope.mail_from, exc)
            return "451 4.3.0 cannot record the report now, try again later"
        except Exception:
            log.exception("report from %s not recorded", envelope.mail_from)
            return "451 4.3.0 cannot record the report now, try again later"
        log.info(
            "report from %s: %s %s (%s)",
            envelope.mail_from,
            outcome.kind or "nothing recorded",
            outcome.email or "",
            outcome.note,
        )
        return "250 OK"


def receiver(ctx: Context, *, host: str, port: int) -> Controller:
    """The SMTP receiver, not started yet (`.start()`, `.stop()`)."""
    if not ctx.settings.bounce_domain:
        raise ClearpixelError("set CLEARPIXEL_BOUNCE_DOMAIN to receive bounces")
    return Controller(
        BounceHandler(ctx),
        hostname=host,
        port=port,
        data_size_limit=MAX_REPORT_BYTES,
        server_hostname=ctx.settings.bounce_domain,
    )
