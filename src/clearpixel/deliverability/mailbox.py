"""Polling a bounce mailbox, for installations that cannot receive mail directly: the bounce
domain's MX delivers to an ordinary mailbox, and `clearpixel bounces poll pop3s://...` reads
it (POP3 over TLS, or `pop3://` on a trusted network), hands each message to
`inbound.receive`, and deletes it once it was handled, so a message is processed once; a
message that could not be handled (database unreachable) stays for the next poll.

The envelope recipient, which carries the VERP token of a DSN, is what the delivery agent
wrote in `Delivered-To`, `X-Original-To` or `Envelope-To`; the `To` header is tried too.
"""

from __future__ import annotations

import logging
import poplib
from dataclasses import dataclass
from email.parser import BytesHeaderParser
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
    """`pop3s://user:password@host[:port]` or `pop3://...` (plain, for a local server)."""

    host: str
    port: int
    tls: bool
    username: str
    password: str
    timeout: float = 30.0

    @classmethod
    def parse(cls, url: str) -> MailboxConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("pop3", "pop3s") or not parts.hostname:
            raise ClearpixelError(f"mailbox URL {url!r}: expected pop3s://user:password@host")
        if not parts.username or parts.password is None:
            raise ClearpixelError(f"mailbox URL {url!r}: the user and password are missing")
        tls = parts.scheme == "pop3s"
        try:
            port = parts.port or (995 if tls else 110)
        except ValueError as exc:
            raise ClearpixelError(f"mailbox URL {url!r}: {exc}") from None
        return cls(parts.hostname, port, tls, unquote(parts.username), unquote(parts.password))


def envelope_recipients(data: bytes) -> list[str]:
    """The addresses a delivered message names as its envelope recipient, in trust order."""
    headers = BytesHeaderParser().parsebytes(data)
    found: list[str] = []
    for name in RECIPIENT_HEADERS:
        for value in headers.get_all(name, []):
            found.extend(part.strip().strip("<>") for part in str(value).split(","))
    return [a for a in found if "@" in a]


def poll_pop3(ctx: Context, config: MailboxConfig) -> PollResult:
    """Read every message of the mailbox, record what it reports, delete what was handled."""
    result = PollResult()
    try:
        client: poplib.POP3 = (
            poplib.POP3_SSL(config.host, config.port, timeout=config.timeout)
            if config.tls
            else poplib.POP3(config.host, config.port, timeout=config.timeout)
        )
    except OSError as exc:
        raise ClearpixelError(
            f"cannot reach the mailbox {config.host}:{config.port}: {exc}"
        ) from None
    try:
        try:
            client.user(config.username)
            client.pass_(config.password)
        except poplib.error_proto as exc:
            raise ClearpixelError(f"the mailbox refused the sign-in: {exc!s}") from None
        count, _size = client.stat()
        for number in range(1, min(count, MAX_MESSAGES) + 1):
            _, lines, _ = client.retr(number)
            data = b"\r\n".join(lines) + b"\r\n"
            result.read += 1
            try:
                outcome = receive(ctx, data, envelope_recipients=envelope_recipients(data))
            except Exception as exc:  # e.g. the database is away: stop, keep the rest
                log.warning("mailbox message %d and later kept for the next poll: %s", number, exc)
                result.kept += count - number + 1
                break
            if outcome.kind is not None:
                result.recorded += 1
            client.dele(number)
        client.quit()  # deletions take effect only now
    finally:
        client.close()
    return result
