"""Mail the platform sends on its own behalf (a signup's confirmation request): no pixel, no
rewritten link, no per-recipient URL but the one the mail exists for. It is assembled by the
send path's MIME layout and goes through the configured transport: SMTP when
`CLEARPIXEL_SMTP_URL` is set, else the outbox folder `DATA_DIR/outbox/system`."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime

from clearpixel.context import Context
from clearpixel.sending.mime import MimeLayout, domain_of
from clearpixel.sending.transports import transport_from


def send_system_mail(
    ctx: Context, *, to: str, subject: str, text: str, html: str, now: datetime
) -> None:
    """Build and hand one message to the transport. Raises DeliveryError when the SMTP server
    refuses it; effects: one message in the outbox folder or handed to SMTP."""
    settings = ctx.settings
    layout = MimeLayout(from_addr=settings.from_address, subject=subject, dkim_key=None)
    key = secrets.token_hex(12)
    data = layout.build(
        to=to,
        message_id=f"<{key}@{domain_of(settings.from_address)}>",
        subject=None,
        date=now,
        boundary=f"=_{key}",
        text=text,
        html=html,
        list_unsubscribe=None,
    )
    transport = transport_from(
        outbox=None,
        smtp=settings.smtp_url or None,
        default_outbox=settings.data_dir / "outbox" / "system",
    )

    async def deliver() -> None:
        session = await transport.session()
        try:
            await session.send(settings.from_address, to, data, key=key)
        finally:
            await session.close()

    asyncio.run(deliver())
