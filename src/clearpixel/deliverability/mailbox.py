"""Polling a bounce mailbox, for installations that cannot receive mail directly: the bounce
domain's MX delivers to an ordinary mailbox, and `clearpixel bounces poll URL` reads it
(`imaps://user:password@host/INBOX` or `pop3s://user:password@host`; `imap://`, `pop3://`
without TLS on a trusted network), hands each message to `inbound.receive`, and deletes it
once it was handled, so a message is processed once; a message that could not be handled
(database unreachable) stays for the next poll.

The envelope recipient, which carries the VERP token of a DSN, is what the delivery agent
wrote in `Delivered-To`, `X-Original-To` or `Envelope-To`; the `To` header is tried too.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import poplib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from clearpixel.context import Context
from clearpixel.deliverability.inbound import receive
from clearpixel.domain.errors import ClearpixelError

log = logging.getLogger("clearpixel.bounces")
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To")
MAX_MESSAGES = 1000


@dataclass
class PollResult:
    read: int = 0
    recorded: int = 0
    kept: int = 0  # left in the mailbox for the next poll


@dataclass(frozen=True, slots=True)
class MailboxConfig:
    """A bounce mailbox: `imaps://`, `imap://`, `pop3s://` or `pop3://` with user, password,
    host, optional port and (IMAP) folder."""

    protocol: str  # imap or pop3
    host: str
    port: int
    tls: bool
    username: str
    password: str
    folder: str = "INBOX"
    timeout: float = 30.0

    @classmethod
    def parse(cls, url: str) -> MailboxConfig:
        parts = urlsplit(url)
        defaults = {"pop3": 110, "pop3s": 995, "imap": 143, "imaps": 993}
        if parts.scheme not in defaults or not parts.hostname:
            raise ClearpixelError(
                f"mailbox URL {url!r}: expected imaps://user:password@host/INBOX "
                "or pop3s://user:password@host"
            )
        if not parts.username or parts.password is None:
            raise ClearpixelError(f"mailbox URL {url!r}: the user and password are missing")
        try:
            port = parts.port or defaults[parts.scheme]
        except ValueError as exc:
            raise ClearpixelError(f"mailbox URL {url!r}: {exc}") from None
        folder = unquote(parts.path.strip("/")) or "INBOX"
        return cls(
            parts.scheme.removesuffix("s"),
            parts.hostname,
            port,
            parts.scheme.endswith("s"),
            unquote(parts.username),
            unquote(parts.password),
            folder,
        )


def envelope_recipients(data: bytes) -> list[str]:
    """The addresses a delivered message names as its envelope recipient, in trust order."""
    headers = BytesHeaderParser().parsebytes(data)
    found: list[str] = []
    for name in RECIPIENT_HEADERS:
        for value in headers.get_all(name, []):
            found.extend(part.strip().strip("<>") for part in str(value).split(","))
    return [a for a in found if "@" in a]


def poll(ctx: Context, config: MailboxConfig) -> PollResult:
    """Read every message of the mailbox, record what it reports, delete what was handled."""
    return poll_imap(ctx, config) if config.protocol == "imap" else poll_pop3(ctx, config)


def _handle(ctx: Context, data: bytes, result: PollResult) -> bool:
    """Record one message; False (and nothing recorded) when it could not be handled."""
    result.read += 1
    try:
        outcome = receive(ctx, data, envelope_recipients=envelope_recipients(data))
    except Exception as exc:  # e.g. the database is away: stop, keep the rest
        log.warning("mailbox message kept for the next poll: %s", exc)
        return False
    if outcome.kind is not None:
        result.recorded += 1
    return True


Client = TypeVar("Client")


def _connect(factory: Callable[..., Client], config: MailboxConfig) -> Client:
    """A connection to the mailbox server; a clear error when there is none."""
    try:
        return factory(config.host, config.port, timeout=config.timeout)
    except OSError as exc:
        raise ClearpixelError(
            f"cannot reach the mailbox {config.host}:{config.port}: {exc}"
        ) from None


@contextlib.contextmanager
def _signing_in(refused: type[Exception]) -> Iterator[None]:
    try:
        yield
    except refused as exc:
        raise ClearpixelError(f"the mailbox refused the sign-in: {exc!s}") from None


def poll_imap(ctx: Context, config: MailboxConfig) -> PollResult:
    """IMAP: every message of the folder; handled ones flagged \\Deleted and expunged."""
    result = PollResult()
    client = _connect(imaplib.IMAP4_SSL if config.tls else imaplib.IMAP4, config)
    try:
        with _signing_in(imaplib.IMAP4.error):
            client.login(config.username, config.password)
        status, _ = client.select(_quoted(config.folder))
        if status != "OK":
            raise ClearpixelError(f"the mailbox has no folder {config.folder!r}")
        _, found = client.search(None, "ALL")
        numbers = (found[0] or b"").split()[:MAX_MESSAGES]
        for i, number in enumerate(numbers):
            _, fetched = client.fetch(number.decode(), "(RFC822)")
            data = next((p[1] for p in fetched if isinstance(p, tuple)), b"")
            if not _handle(ctx, data, result):
                result.kept += len(numbers) - i
                break
            client.store(number.decode(), "+FLAGS", "\\Deleted")
        client.expunge()
        client.logout()
    finally:
        with contextlib.suppress(OSError):
            client.shutdown()
    return result


def _quoted(folder: str) -> str:
    return '"' + re.sub(r'(["\\])', r"\\\1", folder) + '"'


def poll_pop3(ctx: Context, config: MailboxConfig) -> PollResult:
    """Read every message of the mailbox, record what it reports, delete what was handled."""
    result = PollResult()
    client = _connect(poplib.POP3_SSL if config.tls else poplib.POP3, config)
    try:
        with _signing_in(poplib.error_proto):
            client.user(config.username)
            client.pass_(config.password)
        count, _size = client.stat()
        for number in range(1, min(count, MAX_MESSAGES) + 1):
            _, lines, _ = client.retr(number)
            if not _handle(ctx, b"\r\n".join(lines) + b"\r\n", result):
                result.kept += count - number + 1
                break
            client.dele(number)
        client.quit()  # deletions take effect only now
    finally:
        client.close()
    return result
