"""MIME assembly without the email package's object model: the headers and parts of one
campaign are laid out once, and each message is bytes joined around the recipient's values.

multipart/alternative (text then HTML, UTF-8, CRLF line ends), a stable Message-ID,
List-Unsubscribe with https and mailto and RFC 8058 one-click for bulk mail, and a DKIM
signature (dkimpy) covering them when a key is configured.

Parts go as they are, without a transfer encoding to compute: `7bit` when ASCII, `8bit` when
not (RFC 6152; the SMTP transport downgrades such a message with `seven_bit` for a server that
does not offer 8BITMIME). A part that cannot go as it is (a line over 998 octets, RFC 5322
2.1.1; a NUL; the boundary in its text) is sent in base64 instead; one cheap scan per part
finds out.
"""

from __future__ import annotations

import binascii
import re
import struct
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from pathlib import Path

import dkim

from clearpixel.domain.errors import ClearpixelError
from clearpixel.sending.addresses import Mailbox, from_header, mailbox

CRLF = "\r\n"
CRLF_BYTES = b"\r\n"
SIGNED_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"MIME-Version",
    b"Content-Type",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
)


def encode_header(name: str, value: str) -> str:
    """`Name: value` with RFC 2047 encoding and folding when needed."""
    if value.isascii() and len(name) + len(value) < 76 and "\n" not in value and "\r" not in value:
        return f"{name}: {value}"
    charset = "us-ascii" if value.isascii() else "utf-8"
    folded = Header(value.replace("\r", " ").replace("\n", " "), charset, header_name=name)
    return f"{name}: {folded.encode(linesep=CRLF)}"


def domain_of(address: str) -> str:
    """The domain of `address` (a header value or a bare address), as written."""
    return parseaddr(address)[1].rpartition("@")[2].lower()


@lru_cache(maxsize=256)
def _lines_of_76(rows: int) -> struct.Struct:
    return struct.Struct("76s" * rows)


def base64_body(text: str) -> bytes:
    """UTF-8 text with CRLF line ends, in base64 lines of 76 characters. (Quoted-printable
    reads better but binascii's encoder costs more than the whole render; the lines are cut
    by one struct unpack rather than a Python loop over 57-byte chunks.)"""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    crlf = text.replace("\n", CRLF)
    encoded = binascii.b2a_base64(crlf.encode("utf-8"), newline=False)
    rows, rest = divmod(len(encoded), 76)
    lines = list(_lines_of_76(rows).unpack_from(encoded)) if rows else []
    if rest:
        lines.append(encoded[rows * 76 :])
    lines.append(b"")
    return b"\r\n".join(lines)


@lru_cache(maxsize=4)
def _date_header(date: datetime) -> str:
    """The Date header, formatted once per second of sending."""
    return f"Date: {format_datetime(date)}"


MAX_LINE = 998  # octets, without the CRLF (RFC 5322 2.1.1)


def lines_fit(data: bytes, limit: int = MAX_LINE) -> bool:
    """Whether every CRLF-ended line of `data` has at most `limit` octets. Each step looks for
    the last line end within the next `limit + 2` octets, so it jumps a window at a time
    instead of walking every line."""
    pos, size = 0, len(data)
    while size - pos > limit:
        found = data.rfind(b"\n", pos, pos + limit + 2)
        if found < 0:
            return False
        pos = found + 1
    return True


def body_part(text: str | bytes, boundary: bytes, *, crlf: bool = False) -> tuple[bytes, bytes]:
    """(Content-Transfer-Encoding, body) of one text part (str, or bytes in UTF-8): the text
    itself with CRLF line ends (7bit or 8bit) when it can go as it is, else base64. The body
    ends with its last CRLF, then comes the CRLF that belongs to the boundary (RFC 2046).
    `crlf`: the caller knows every line end is already CRLF (skips a scan that costs as much
    as a plain render)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if not crlf:
        line_ends = data.count(b"\n")
        if data.count(b"\r") != line_ends or data.count(b"\r\n") != line_ends:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", CRLF_BYTES)
    if b"\0" in data or not lines_fit(data) or b"--" + boundary in data:
        return b"base64", base64_body(data.decode("utf-8"))
    return (b"7bit" if data.isascii() else b"8bit"), data + b"\r\n"


HEADER_END = b"\r\n\r\n"
BOUNDARY = re.compile(rb'boundary="([^"]+)"')


@dataclass(frozen=True, slots=True)
class DkimKey:
    selector: bytes
    domain: bytes
    private_key: bytes

    @classmethod
    def load(cls, *, selector: str, domain: str, key_file: Path) -> DkimKey:
        try:
            key = key_file.read_bytes()
        except OSError as exc:
            raise ClearpixelError(f"DKIM key file {key_file}: {exc.strerror}") from None
        return cls(selector.encode(), domain.encode(), key)

    def sign(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature header in front."""
        signature: bytes = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=[h for h in SIGNED_HEADERS if h.lower() + b":" in message.lower()],
        )
        return signature + message


class MimeLayout:
    """The fixed parts of one campaign's messages."""

    def __init__(self, *, from_addr: str, subject: str | None, dkim_key: DkimKey | None) -> None:
        value, self.envelope_from = from_header(from_addr)
        self.from_header = f"From: {value}"
        self.domain = domain_of(self.envelope_from)
        self.subject_header = encode_header("Subject", subject) if subject is not None else None
        self.dkim_key = dkim_key

    def build(
        self,
        *,
        to: Mailbox | str,
        message_id: str,
        subject: str | None,
        date: datetime,
        boundary: str,
        text: str | bytes,
        html: str | bytes,
        list_unsubscribe: tuple[str, str] | None,
        crlf: tuple[bool, bool] = (False, False),
    ) -> bytes:
        """One complete message, as sent on the wire. `to` is written as it is (see
        `addresses`: never RFC 2047, which mail readers cannot parse as an address). `text`
        and `html` are str, or bytes in UTF-8; `crlf` says for each whether its line ends
        are known to be CRLF already (else any line ends are accepted and made CRLF)."""
        if isinstance(to, str):
            to = mailbox(to)
        subject_header = self.subject_header or encode_header("Subject", subject or "")
        headers = [
            self.from_header,
            f"To: {to.header}",  # UTF-8 (RFC 6532) only for a non-ASCII local part
            subject_header,
            _date_header(date.replace(microsecond=0)),
            f"Message-ID: {message_id}",
            "MIME-Version: 1.0",
        ]
        if list_unsubscribe is not None:
            https, mailto = list_unsubscribe
            headers.append(f"List-Unsubscribe: <{https}>,{CRLF} <{mailto}>")
            headers.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        head = CRLF.join(headers).encode("utf-8")
        mark = boundary.encode("ascii")
        text_cte, text_body = body_part(text, mark, crlf=crlf[0])
        html_cte, html_body = body_part(html, mark, crlf=crlf[1])
        message = b"".join(
            (
                head,
                b"\r\n\r\n--%s\r\n" % mark,
                b'Content-Type: text/plain; charset="utf-8"\r\n'
                b"Content-Transfer-Encoding: %s\r\n\r\n" % text_cte,
                text_body,
                b"--%s\r\n" % mark,
                b'Content-Type: text/html; charset="utf-8"\r\n'
                b"Content-Transfer-Encoding: %s\r\n\r\n" % html_cte,
                html_body,
                b"--%s--\r\n" % mark,
            )
        )
        if self.dkim_key is not None:
            return self.dkim_key.sign(message)
        return message

    def seven_bit(self, message: bytes) -> bytes:
        """`message` (built by `build`) with its 8bit parts in base64 and, with a key, signed
        again: for an SMTP server that does not offer 8BITMIME."""
        if message.isascii():
            return message
        head, _, body = message.partition(HEADER_END)
        if head.startswith(b"DKIM-Signature:"):
            head = head[head.index(b"\r\nFrom:") + 2 :]  # folded lines start with a space
        found = BOUNDARY.findall(head)  # Content-Type, the last header, names it
        if not found:
            raise ClearpixelError("not a message of this layout: no boundary")
        delimiter = b"\r\n--" + found[-1]
        chunks = body.split(delimiter)
        for i, chunk in enumerate(chunks):
            part_head, sep, content = chunk.partition(HEADER_END)
            if sep and part_head.endswith(b"Content-Transfer-Encoding: 8bit"):
                encoded = base64_body(content.decode("utf-8")).removesuffix(b"\r\n")
                chunks[i] = part_head[:-4] + b"base64" + HEADER_END + encoded
        message = head + HEADER_END + delimiter.join(chunks)
        if self.dkim_key is not None:
            return self.dkim_key.sign(message)
        return message
