"""The platform's own mail (a signup's confirmation request) goes through real SMTP when
CLEARPIXEL_SMTP_URL is set: untracked, to the address typed in the form, and nothing in the
outbox folder."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2

from clearpixel.context import Context
from clearpixel.web.server import ThreadedServer
from tests.helpers import make_list
from tests.sending.messages import parse, parts


def test_a_signup_confirmation_goes_through_the_configured_smtp_server(ctx, smtp_server):
    smtp = Context(
        settings=ctx.settings.model_copy(update={"smtp_url": smtp_server.url}),
        db=ctx.db,
        now=ctx.now,
    )
    make_list(ctx)
    with ThreadedServer(smtp) as server, httpx2.Client(base_url=server.url) as client:
        answer = client.post(
            "/subscribe/newsletter", data={"email": "ann@example.org", "purpose": "open_tracking"}
        )
    assert answer.status_code == 200
    (received,) = smtp_server.messages
    assert received.recipients == ["ann@example.org"]
    text, html = parts(parse(received.data))
    links = set(re.findall(r"https?://[^\s\"<]+", text + html))
    assert len(links) == 1 and "/subscribe/confirm/" in links.pop()
    assert "<img" not in html
    assert not (Path(ctx.settings.data_dir) / "outbox").exists()
