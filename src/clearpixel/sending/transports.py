"""Where messages go: an outbox folder of .eml files (the embedded default), SMTP through
aiosmtplib, or memory (for the Python API and tests of callers).

A transport hands out sessions, one per concurrent sender, so an SMTP connection is reused
for every message of its sender. `send` returns when the message was accepted; it raises
TemporaryFailure when a 4xx reply persists after the retries, PermanentFailure on 5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from clearpixel.domain.errors import ClearpixelError


class DeliveryError(Exception):
    """A failed delivery. `stage` names the SMTP step whose reply failed it (connect, mail,
    rcpt, data) and `code` that reply's code (0 without one), so the caller can tell a
    recipient's bounce from a connection or whole-message failure."""

    permanent = False

    def __init__(self, message: str, *, stage: str = "connect", code: int = 0) -> None:
        super().__init__(message)
        self.stage = stage
        self.code = code


class TemporaryFailure(DeliveryError):
    """The server deferred the message (4xx) or could not be reached, retries exhausted."""


class PermanentFailure(DeliveryError):
    """The server refused the message for good (5xx)."""

    permanent = True


Downgrade = Callable[[bytes], bytes]


class Session(Protocol):
    async def send(
        self,
        sender: str,
        recipient: str,
        data: bytes,
        *,
        key: str,
        downgrade: Downgrade | None = None,
    ) -> None:
        """Hand `data` on. A message with 8bit parts goes to an SMTP server that does not
        offer 8BITMIME as `downgrade(data)` (the same message, 7bit)."""

    async def close(self) -> None: ...


class Transport(Protocol):
    name: str

    async def session(self) -> Session: ...


class RateLimiter:
    """At most `rate` messages per second across every session (None: no limit)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next_slot = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


# --- outbox ----------------------------------------------------------------------------------


class OutboxTransport:
    """Writes each message to `folder/<key>.eml` atomically (a resend replaces the file)."""

    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def session(self) -> Session:
        self.folder.mkdir(parents=True, exist_ok=True)
        return _OutboxSession(self.folder)


@dataclass
class _OutboxSession:
    folder: Path

    async def send(
        self,
        sender: str,
        recipient: str,
        data: bytes,
        *,
        key: str,
        downgrade: Downgrade | None = None,
    ) -> None:
        final = self.folder / f"{key}.eml"
        partial = self.folder / f".{key}.eml.partial"
        with open(partial, "wb") as handle:
            # what the receiving server adds on final delivery: the envelope sender
            handle.write(b"Return-Path: <%s>\r\n" % sender.encode("utf-8"))
            handle.write(data)
        os.replace(partial, final)

    async def close(self) -> None:
        return None


# --- memory ----------------------------------------------------------------------------------


@dataclass
class MemoryTransport:
    """Keeps (recipient, bytes) in a list."""

    name: str = "memory"
    messages: list[tuple[str, bytes]] = field(default_factory=list)

    async def session(self) -> Session:
        return _MemorySession(self.messages)


@dataclass
class _MemorySession:
    messages: list[tuple[str, bytes]]

    async def send(
        self,
        sender: str,
        recipient: str,
        data: bytes,
        *,
        key: str,
        downgrade: Downgrade | None = None,
    ) -> None:
        self.messages.append((recipient, data))

    async def close(self) -> None:
        return None


# --- SMTP ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Parsed from `smtp://[user:pass@]host[:port]` (STARTTLS when offered),
    `smtp+starttls://...` (STARTTLS required) or `smtps://...` (TLS from the start).
    Query options: `timeout` (seconds), `retries` (on 4xx), `backoff` (first wait, seconds)."""

    host: str
    port: int
    use_tls: bool
    start_tls: bool | None
    username: str | None
    password: str | None
    timeout: float = 30.0
    retries: int = 4
    backoff: float = 1.0

    @classmethod
    def parse(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
            raise ClearpixelError(
                f"SMTP URL {url!r}: expected smtp://, smtp+starttls:// or smtps://host[:port]"
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            port = parts.port or (465 if scheme == "smtps" else 587 if parts.username else 25)
            return cls(
                host=parts.hostname,
                port=port,
                use_tls=scheme == "smtps",
                start_tls=True
                if scheme == "smtp+starttls"
                else (False if scheme == "smtps" else None),
                username=unquote(parts.username) if parts.username else None,
                password=unquote(parts.password) if parts.password else None,
                timeout=float(query.get("timeout", 30)),
                retries=int(query.get("retries", 4)),
                backoff=float(query.get("backoff", 1)),
            )
        except ValueError as exc:
            raise ClearpixelError(f"SMTP URL {url!r}: {exc}") from None


Sleep = Callable[[float], Awaitable[None]]


class SmtpTransport:
    """SMTP delivery with one reused connection per session and retry with back-off."""

    name = "smtp"

    def __init__(self, config: SmtpConfig, *, sleep: Sleep = asyncio.sleep) -> None:
        self.config = config
        self.sleep = sleep

    async def session(self) -> Session:
        return _SmtpSession(self.config, self.sleep)


class _SmtpSession:
    def __init__(self, config: SmtpConfig, sleep: Sleep) -> None:
        self.config = config
        self.sleep = sleep
        self.client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self.client is not None and self.client.is_connected:
            return self.client
        c = self.config
        self.client = aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            use_tls=c.use_tls,
            start_tls=c.start_tls,
            username=c.username,
            password=c.password,
            timeout=c.timeout,
        )
        await self.client.connect()
        return self.client

    async def _drop(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            with contextlib.suppress(Exception):  # the connection is being thrown away
                client.close()

    async def send(
        self,
        sender: str,
        recipient: str,
        data: bytes,
        *,
        key: str,
        downgrade: Downgrade | None = None,
    ) -> None:
        delay = self.config.backoff
        eight_bit = not data.isascii()
        utf8 = not recipient.isascii()  # a non-ASCII local part (see `addresses`)
        for attempt in range(self.config.retries + 1):
            try:
                client = await self._connected()
                if utf8:
                    await self._send_utf8(client, sender, recipient, data)
                elif not eight_bit:
                    await client.sendmail(sender, [recipient], data)
                elif client.supports_extension("8bitmime"):
                    await client.sendmail(sender, [recipient], data, mail_options=["BODY=8BITMIME"])
                elif downgrade is not None:
                    await client.sendmail(sender, [recipient], downgrade(data))
                else:
                    raise PermanentFailure(
                        "the SMTP server does not accept 8-bit messages (no 8BITMIME)"
                    )
                return
            except aiosmtplib.SMTPRecipientsRefused as exc:
                code = min((r.code for r in exc.recipients), default=550)
                message = exc.recipients[0].message if exc.recipients else str(exc)
                error = TemporaryFailure(f"{code} {message}", stage="rcpt", code=code)
                if code >= 500:
                    await self._reset()
                    raise PermanentFailure(f"{code} {message}", stage="rcpt", code=code) from exc
                await self._reset()
            except aiosmtplib.SMTPResponseException as exc:
                stage = _stage_of(exc)
                if exc.code >= 500:
                    await self._reset()
                    raise PermanentFailure(
                        f"{exc.code} {exc.message}", stage=stage, code=exc.code
                    ) from exc
                error = TemporaryFailure(f"{exc.code} {exc.message}", stage=stage, code=exc.code)
                await self._reset()
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                error = TemporaryFailure(str(exc) or type(exc).__name__)
                await self._drop()
            if attempt < self.config.retries:
                await self.sleep(delay)
                delay *= 2
        raise error

    @staticmethod
    async def _send_utf8(client: aiosmtplib.SMTP, sender: str, recipient: str, data: bytes) -> None:
        """An internationalised message (RFC 6531): only to a server that offers SMTPUTF8;
        otherwise this recipient fails for good, with the reason."""
        if not client.supports_extension("smtputf8"):
            raise PermanentFailure(
                f"the SMTP server does not offer SMTPUTF8, which the address {recipient!r} "
                "needs (its local part is not ASCII)"
            )
        options = ["SMTPUTF8"]
        if client.supports_extension("8bitmime"):
            options.append("BODY=8BITMIME")
        await client.sendmail(sender, [recipient], data, mail_options=options)

    async def _reset(self) -> None:
        """After a refused transaction, clear it (RSET) or reconnect."""
        if self.client is not None and self.client.is_connected:
            try:
                await self.client.rset()
                return
            except (aiosmtplib.SMTPException, OSError):
                pass
        await self._drop()

    async def close(self) -> None:
        if self.client is not None and self.client.is_connected:
            try:
                await self.client.quit()
            except (aiosmtplib.SMTPException, OSError):
                await self._drop()
        self.client = None


def _stage_of(exc: aiosmtplib.SMTPResponseException) -> str:
    """The SMTP step a reply answered (connection-level unless it is MAIL or DATA)."""
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return "mail"
    if isinstance(exc, aiosmtplib.SMTPDataError):
        return "data"
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return "rcpt"
    return "connect"


def transport_from(*, outbox: Path | None, smtp: str | None, default_outbox: Path) -> Transport:
    """The transport a `campaign send` asked for; the outbox folder by default."""
    if outbox is not None and smtp:
        raise ClearpixelError("choose either --outbox or --smtp, not both")
    if smtp:
        return SmtpTransport(SmtpConfig.parse(smtp))
    return OutboxTransport(outbox or default_outbox)
