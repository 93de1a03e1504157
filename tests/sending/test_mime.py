"""MIME building blocks."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearpixel.domain.errors import ClearpixelError
from clearpixel.sending.mime import MimeLayout, base64_body, encode_header
from tests.conftest import FIXED_NOW
from tests.sending.messages import parse, parts


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
