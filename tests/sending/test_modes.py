"""Deliverability and none modes (R4, R6 at send time), and security mail (R7)."""

from __future__ import annotations

import re

from clearpixel.domain.policy import TrackingMode
from clearpixel.domain.tokens import TokenKind
from clearpixel.sending import campaigns
from clearpixel.sending.transports import MemoryTransport
from clearpixel.store.sends import get_send
from tests.helpers import make_list
from tests.sending.conftest import add_contacts
from tests.sending.messages import parse, parts, scan

BASE = "https://mail.example.test"
HTML = "<html><body><p>Hi</p><img src='https://cdn.example.com/a.png'></body></html>"


def _send(ctx, kind="marketing"):
    list_id = make_list(ctx)
    ids = add_contacts(
        ctx, list_id, [("a@example.org", None, {"customer_id": "C-77"}), ("b@example.org", 1, {})]
    )
    campaign = campaigns.create_campaign(
        ctx, list_name="newsletter", kind=kind, subject="s", html=HTML
    )
    transport = MemoryTransport()
    campaigns.send_campaign(ctx, campaign.id, transport)
    return campaign, ids, {rcpt: parse(data) for rcpt, data in transport.messages}


def test_deliverability_mode_gets_its_own_token_and_the_preference_link(ctx):
    ctx.settings = ctx.settings.model_copy(update={"nonconsent_mode": TrackingMode.DELIVERABILITY})
    campaign, ids, messages = _send(ctx)
    _, html = parts(messages["a@example.org"])
    (token,) = re.findall(re.escape(BASE) + r"/o/([A-Za-z0-9_-]+)\.gif", html)
    verified = ctx.signer.verify(token, TokenKind.DELIVERABILITY)
    assert verified.contact_id == ids["a@example.org"] and verified.purposes == 0
    assert f"{BASE}/preferences/" in html, "R4"
    with ctx.db.connect() as conn:
        assert get_send(conn, campaign.id, ids["a@example.org"])["mode"] == "deliverability"


def test_none_mode_has_no_pixel_at_all(ctx):
    ctx.settings = ctx.settings.model_copy(update={"nonconsent_mode": TrackingMode.NONE})
    _, _, messages = _send(ctx)
    _, html = parts(messages["a@example.org"])
    assert not [u for u in scan(html).autoloaded if BASE in u]
    assert scan(html).autoloaded == ["https://cdn.example.com/a.png"]


def test_security_mail_is_anonymous_for_everyone_without_unsubscribe_headers(ctx):
    campaign, _, messages = _send(ctx, kind="security")
    tags = set()
    for message in messages.values():
        _, html = parts(message)
        tags.update(t for t in scan(html).images if BASE in t)
        assert "List-Unsubscribe" not in message
    assert tags == {
        f'<img src="{BASE}/o/a/{campaign.public_id}.gif" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0">'
    }


async def test_send_campaign_works_when_called_inside_a_running_event_loop(ctx):
    _, _, messages = _send(ctx)
    assert sorted(messages) == ["a@example.org", "b@example.org"]
