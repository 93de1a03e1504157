"""Addresses as they go out: the domain in IDNA (punycode, RFC 5890), the local part as it is.

An address whose local part is ASCII is plain RFC 5322 everywhere. One whose local part is not
can only travel as an internationalised message (RFC 6531/6532): the header carries it in
UTF-8 and the SMTP server must offer SMTPUTF8; `Mailbox.utf8` says so, and the SMTP transport
refuses that recipient clearly when the server does not offer it. Encoding a whole address
with RFC 2047 (`=?utf-8?b?...?=`), as mail libraries do for display names, makes it
unreadable: a mail reader then sees a local part with no domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import formataddr, parseaddr

import idna

from clearpixel.domain.errors import ClearpixelError

LINE_BREAKS = ("\r", "\n")


class InvalidAddress(ClearpixelError, ValueError):
    """An address that cannot be written in a header; the message names it."""


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One address ready for the header (`header`) and the SMTP envelope (`envelope`)."""

    header: str
    envelope: str
    utf8: bool  # needs SMTPUTF8 (non-ASCII local part)


def no_line_break(what: str, value: str) -> None:
    """Refuse a value meant for a mail header that contains a line break (it would start a
    header of its own)."""
    if any(c in value for c in LINE_BREAKS):
        raise InvalidAddress(f"{what} {value!r} contains a line break, which no header may")


def mailbox(address: str) -> Mailbox:
    """`address` with its domain in IDNA. Raises InvalidAddress."""
    no_line_break("the address", address)
    if address.isascii():
        return Mailbox(address, address, False)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddress(f"{address!r} is not an email address")
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidAddress(f"the domain of {address!r} is not a valid name: {exc}") from None
    written = f"{local}@{ascii_domain}"
    return Mailbox(written, written, not local.isascii())


def from_header(value: str) -> tuple[str, str]:
    """(the From header's value, the envelope sender) for `Name <address>` or `address`:
    the display name in RFC 2047 when it is not ASCII, the domain in IDNA. A sender whose
    local part is not ASCII is refused: every message would need SMTPUTF8."""
    no_line_break("the From address", value)
    display, addr = parseaddr(value)
    if not addr or "@" not in addr:
        raise InvalidAddress(f"From: {value!r} is not an email address")
    box = mailbox(addr)
    if box.utf8:
        raise InvalidAddress(
            f"From: {addr!r} has a non-ASCII local part; use an ASCII sender address"
        )
    return formataddr((display, box.header), charset="utf-8"), box.envelope
