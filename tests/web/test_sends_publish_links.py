"""On a deployment with tracking nodes, every way of sending a campaign puts its links where
the nodes read them before the first message goes out: the admin's send button and the API's
send as well as `campaign send` and the schedule. Tried as a recipient clicks: a node with no
database answers 503 "try again" before the send and redirects after it; a send whose links
NATS cannot take sends nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from clearpixel.accounts import api_keys
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.sending import campaigns as sending
from clearpixel.sending.transports import OutboxTransport
from clearpixel.store.campaigns import get_links
from clearpixel.web.app import create_app
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import click_url, rows
from tests.ingest.nats_helpers import get, node_env, remove_stream_and_bucket, with_nats
from tests.web.admin_session import csrf_of, signed_in
from tests.web.served import serve

SALE = "https://shop.example.org/sale"
HTML = f'<p>Hi {{{{ first_name }}}}, <a href="{SALE}">the sale</a></p>'


@pytest.fixture
def nctx(ctx) -> Iterator[Context]:
    named = with_nats(ctx)
    yield named
    remove_stream_and_bucket(named)


def sale_click(ctx: Context, campaign_id: int, contact_id: int) -> str:
    with ctx.db.connect() as conn:
        (link_id,) = [i for i, url in get_links(conn, campaign_id).items() if url == SALE]
    return click_url(ctx, campaign_id, contact_id, link_id)


def test_admin_and_api_sends_publish_links_a_node_without_database_redirects(nctx, tmp_path):
    list_id = make_list(nctx)
    (contact,) = make_contacts(nctx, list_id, [1], first_name="Ada")
    by_admin = sending.create_campaign(
        nctx, list_name="newsletter", kind="marketing", subject="Sale", html=HTML, name="a"
    )
    by_api = sending.create_campaign(
        nctx, list_name="newsletter", kind="marketing", subject="Sale", html=HTML, name="b"
    )
    clicks = [sale_click(nctx, c.id, contact) for c in (by_admin, by_api)]
    with serve(node_env(nctx, tmp_path / "node"), tmp_path, "--role", "tracking") as node:
        assert [a[0] for a in get(node.port, clicks)] == [503, 503]  # not sent: try again

        editor = signed_in(nctx, "ed@example.org", "correct horse battery", role="editor")
        page = editor.get(f"/admin/campaigns/{by_admin.id}")
        editor.post(f"/admin/campaigns/{by_admin.id}/send", data={"csrf": csrf_of(page.text)})
        deadline = time.monotonic() + 30
        while sending.get_campaign(nctx, by_admin.id).status != "sent":
            assert time.monotonic() < deadline, sending.get_campaign(nctx, by_admin.id)
            time.sleep(0.1)

        _, secret = api_keys.create_api_key(nctx, "tests")
        with TestClient(create_app(nctx)) as api:
            api.headers["Authorization"] = f"Bearer {secret}"
            sent = api.post(f"/api/v1/campaigns/{by_api.id}/send")
        assert sent.status_code == 200 and sent.json()["sent"] == 1, sent.text

        answers = get(node.port, clicks)
        assert [(a[0], a[1]["location"]) for a in answers] == [(302, SALE), (302, SALE)]


def test_a_send_whose_links_nats_cannot_take_sends_nothing(nctx, tmp_path):
    list_id = make_list(nctx)
    make_contacts(nctx, list_id, [1, 0], first_name="Ada")
    found = sending.create_campaign(
        nctx, list_name="newsletter", kind="marketing", subject="Sale", html=HTML
    )
    away = Context(
        settings=nctx.settings.model_copy(update={"nats_url": "nats://127.0.0.1:1"}),
        db=nctx.db,
        now=nctx.now,
    )
    outbox = tmp_path / "outbox"
    with pytest.raises(ClearpixelError, match=r"127\.0\.0\.1:1"):
        sending.send_campaign(away, found.id, OutboxTransport(outbox))
    assert not outbox.exists() or not list(outbox.iterdir())
    assert rows(nctx, "sends") == []
    assert sending.get_campaign(nctx, found.id).status == "draft"
