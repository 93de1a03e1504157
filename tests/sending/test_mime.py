"""MIME building blocks."""

from __future__ import annotations

import asyncio
import base64
import socket

import dkim
import pytest
from aiosmtpd.controller import Controller
from hypothesis import given
from hypothesis import strategies as st

from clearpixel.domain.errors import ClearpixelError
from clearpixel.sending.mime import DkimKey, MimeLayout, base64_body, encode_header, lines_fit
from clearpixel.sending.transports import SmtpConfig, SmtpTransport
from tests.conftest import FIXED_NOW
from tests.sending.messages import parse, parts
from tests.sending.test_delivery import rsa_key_pair


@given(st.text())
def test_base64_body_matches_the_standard_encoder_with_crlf_lines(text):
    crlf = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    expected = base64.encodebytes(crlf.encode("utf-8")).replace(b"\n", b"\r\n")
    assert base64_body(text) == expected


def test_headers_cannot_be_injected():
    assert "\n" not in encode_header("Subject", "Hi\r\nBcc: x@example.org").replace("\r\n ", "")
    layout = MimeLayout(from_addr="a@example.org", subject="s", dkim_key=None)
    with pytest.raises(ClearpixelError):
        layout.build(
            to="a@example.org\r\nBcc: b@example.org", message_id="<x@y>", subject=None,
            date=FIXED_NOW, boundary="=_b", text="t", html="<p>h</p>", list_unsubscribe=None,
        )  # fmt: skip


def test_a_message_round_trips_through_the_email_parser():
    layout = MimeLayout(from_addr="Zoé News <news@example.org>", subject=None, dkim_key=None)
    data = layout.build(
        to="a@example.org", message_id="<p.1@example.org>", subject="Été " * 30,
        date=FIXED_NOW, boundary="=_p.1", text="Bonjour\nà vous", html="<p>Été</p>",
        list_unsubscribe=("https://t.example/unsubscribe/T", "mailto:u@example.org?subject=T"),
    )  # fmt: skip
    message = parse(data)
    assert message["Subject"].split() == ["Été"] * 30
    assert message["From"].addresses[0].display_name == "Zoé News"
    assert parts(message) == ("Bonjour\r\nà vous", "<p>Été</p>")
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))


def _build(layout: MimeLayout, text: str, html: str) -> bytes:
    return layout.build(
        to="a@example.org", message_id="<p.1@example.org>", subject=None, date=FIXED_NOW,
        boundary="=_p.1", text=text, html=html, list_unsubscribe=None,
    )  # fmt: skip


def _encodings(data: bytes) -> list[str]:
    return [str(p["Content-Transfer-Encoding"]) for p in parse(data).iter_parts()]


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


@given(st.text(), st.text())
def test_any_text_round_trips_and_no_line_exceeds_998_octets(text, html):
    layout = MimeLayout(from_addr="a@example.org", subject="s", dkim_key=None)
    data = _build(layout, text, html)
    assert parts(parse(data)) == (_crlf(text), _crlf(html))
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b"")


def test_parts_go_as_they_are_unless_they_cannot():
    layout = MimeLayout(from_addr="a@example.org", subject="s", dkim_key=None)
    assert _encodings(_build(layout, "plain\n", "<p>plain</p>")) == ["7bit", "7bit"]
    assert _encodings(_build(layout, "Zoé", "<p>Zoé</p>")) == ["8bit", "8bit"]
    long_line = "<p>" + "x" * 996 + "</p>"  # 1,003 octets on one line
    assert _encodings(_build(layout, "ok", long_line)) == ["7bit", "base64"]
    assert _encodings(_build(layout, "a\n--=_p.1--\nb", "<p>ok</p>")) == ["base64", "7bit"]
    assert _encodings(_build(layout, "nul\x00", "<p>ok</p>")) == ["base64", "7bit"]


@given(st.binary(max_size=3000).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"\r\n")))
def test_lines_fit_agrees_with_splitting_every_line(data):
    for limit in (1, 5, 998):
        assert lines_fit(data, limit) == all(len(line) <= limit for line in data.split(b"\r\n"))


def test_seven_bit_keeps_the_content_and_its_dkim_signature_verifies(tmp_path):
    private, record = rsa_key_pair()
    key = DkimKey(b"mail", b"example.org", private)
    layout = MimeLayout(from_addr="Zoé <a@example.org>", subject="Été", dkim_key=key)
    text, html = "Bonjour Zoé\n--\nà bientôt\n", "<p>Zoé</p>\n<p>" + "é" * 600 + "</p>"
    eight = _build(layout, text, html)
    seven = layout.seven_bit(eight)
    assert not eight.isascii() and seven.isascii()
    assert _encodings(seven) == ["base64", "base64"]
    assert parts(parse(seven)) == parts(parse(eight)) == (_crlf(text), _crlf(html))
    assert seven.count(b"DKIM-Signature:") == 1

    def dnsfunc(name, timeout=5):
        return record

    assert dkim.verify(eight, dnsfunc=dnsfunc) and dkim.verify(seven, dnsfunc=dnsfunc)


class _RawHandler:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.original_content)
        return "250 OK"


def test_a_server_without_8bitmime_gets_the_message_in_seven_bits():
    layout = MimeLayout(from_addr="a@example.org", subject="s", dkim_key=None)
    data = _build(layout, "Zoé", "<p>Zoé</p>")
    handler = _RawHandler()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    # decode_data=True: the server offers no 8BITMIME.
    controller = Controller(handler, hostname="127.0.0.1", port=port, decode_data=True)
    controller.start()
    try:
        transport = SmtpTransport(SmtpConfig.parse(f"smtp://127.0.0.1:{port}?timeout=10"))

        async def send() -> None:
            session = await transport.session()
            await session.send("a@example.org", "b@example.org", data, key="1",
                               downgrade=layout.seven_bit)  # fmt: skip
            await session.close()

        asyncio.run(send())
    finally:
        controller.stop()
    (received,) = handler.messages
    assert received.isascii()
    assert parts(parse(received)) == ("Zoé", "<p>Zoé</p>")
