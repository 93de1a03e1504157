"""The pixel and click endpoints over real HTTP: R12 (always the GIF), R13 (no open redirect),
HEAD records nothing, tampered tokens are never attributed."""

from __future__ import annotations

import base64

import pytest

from clearpixel.web.tracking import GIF
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import (
    click_token,
    click_url,
    make_campaign,
    make_send,
    pixel_token,
    rows,
)
from tests.web.tracking_support import NO_STORE, eventually, request

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"


def drop_count(ctx, reason: str) -> int:
    return sum(r["n"] for r in rows(ctx, "hit_drops") if r["reason"] == reason)


def hit_count(ctx) -> int:
    return sum(r["n"] for r in rows(ctx, "hit_counters"))


@pytest.fixture
def campaign(ctx):
    list_id = make_list(ctx)
    (contact,) = make_contacts(ctx, list_id, [1])
    campaign_id, public_id = make_campaign(ctx, list_id)
    make_send(ctx, campaign_id, contact)
    return campaign_id, public_id, contact


def assert_gif(status, headers, body):
    assert status == 200
    assert body == GIF and len(body) == 43
    assert headers["content-type"] == "image/gif"
    assert headers["cache-control"] == NO_STORE


def test_personal_pixel_answers_the_gif_and_records_one_open(ctx, live_server, campaign):
    campaign_id, _, contact = campaign
    path = f"/o/{pixel_token(ctx, campaign_id, contact)}.gif"
    assert_gif(*request(live_server.url, path, headers={"User-Agent": UA}))
    assert eventually(lambda: hit_count(ctx) == 1)
    (event,) = rows(ctx, "personal_events")
    assert (event["contact_id"], event["verdict"]) == (contact, "human")


def test_head_answers_the_same_and_records_nothing(ctx, live_server, campaign):
    campaign_id, public_id, contact = campaign
    status, headers, body = request(
        live_server.url, f"/o/{pixel_token(ctx, campaign_id, contact)}.gif", method="HEAD"
    )
    assert status == 200 and body == b"" and headers["content-length"] == "43"
    request(live_server.url, f"/o/a/{public_id}.gif", method="HEAD")
    status, headers, _ = request(
        live_server.url, click_url(ctx, campaign_id, contact, 1), method="HEAD"
    )
    assert status == 302 and headers["location"] == "https://shop.example.org/sale"
    # a GET afterwards is the only thing recorded
    request(live_server.url, f"/o/a/{public_id}.gif")
    assert eventually(lambda: hit_count(ctx) == 1)
    assert rows(ctx, "personal_events") == []
    assert [r["mode"] for r in rows(ctx, "hit_counters")] == ["anonymous"]


def test_every_byte_of_a_token_flipped_gives_the_gif_and_no_attribution(ctx, live_server, campaign):
    campaign_id, _, contact = campaign
    token = pixel_token(ctx, campaign_id, contact)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for i in range(len(raw)):
        flipped = bytearray(raw)
        flipped[i] ^= 0xFF
        forged = base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
        assert_gif(*request(live_server.url, f"/o/{forged}.gif", headers={"User-Agent": UA}))
    for junk in ("/o/.gif", "/o/x", "/o/%00%ff.gif", "/o/" + "A" * 300 + ".gif", "/o/a/.gif"):
        assert_gif(*request(live_server.url, junk))
    expected = len(raw) + 5
    assert eventually(lambda: drop_count(ctx, "bad_token") == expected)
    assert rows(ctx, "personal_events") == [] and hit_count(ctx) == 0


def test_pixel_of_unknown_campaign_is_a_gif(ctx, live_server):
    assert_gif(*request(live_server.url, f"/o/{pixel_token(ctx, 4242, 1)}.gif"))
    assert_gif(*request(live_server.url, "/o/a/nosuchcampaign.gif"))
    assert eventually(lambda: drop_count(ctx, "unknown_campaign") == 2)


def test_click_redirects_only_to_the_registered_url(ctx, live_server, campaign):
    campaign_id, _, contact = campaign
    status, headers, _ = request(live_server.url, click_url(ctx, campaign_id, contact, 2))
    assert status == 302 and headers["location"] == "https://example.org/about"
    assert eventually(lambda: hit_count(ctx) == 1)
    (event,) = rows(ctx, "personal_events")
    assert (event["event"], event["link_id"], event["contact_id"]) == ("click", 2, contact)


def test_open_redirect_attempts_never_redirect(ctx, live_server, campaign):
    campaign_id, _, contact = campaign
    other_list = make_list(ctx, "other")
    other_id, _ = make_campaign(
        ctx,
        other_list,
        name="Other",
        links=["https://a.example.org", "https://b.example.org", "https://evil.example/3"],
    )
    good = click_token(ctx, campaign_id, contact, 1)
    evil = "https://evil.example/phish"
    attempts = [
        f"/c/{evil}",
        "/c/https%3A%2F%2Fevil.example%2Fphish",
        "/c/%2F%2Fevil.example",
        f"/c/{good}/{evil}",
        f"/c/{good}%2F%2Fevil.example",
        f"/c/{good}x",
        f"/c/{click_token(ctx, campaign_id, contact, 99)}",  # unknown link id
        f"/c/{click_token(ctx, campaign_id, contact, 3)}",  # link 3 exists only in another
        f"/c/{click_token(ctx, other_id + 1000, contact, 1)}",  # unknown campaign
        f"/c/{pixel_token(ctx, campaign_id, contact)}",  # a pixel token is not a click token
        "/c/",
    ]
    for path in attempts:
        status, headers, body = request(live_server.url, path)
        assert status == 404, path
        assert "location" not in headers
        assert b"evil" not in body
    # a query string or extra header never changes where a valid token goes
    status, headers, _ = request(
        live_server.url, f"/c/{good}?url={evil}&next={evil}", headers={"Referer": evil}
    )
    assert status == 302 and headers["location"] == "https://shop.example.org/sale"


def test_click_on_a_campaign_created_after_start_is_found(ctx, live_server):
    list_id = make_list(ctx, "late")
    (contact,) = make_contacts(ctx, list_id, [None])
    campaign_id, _ = make_campaign(
        ctx, list_id, name="Late", links=["https://late.example.org/x?a=1&b=é"]
    )
    status, headers, _ = request(live_server.url, click_url(ctx, campaign_id, contact, 1))
    assert status == 302
    assert headers["location"] == "https://late.example.org/x?a=1&b=%C3%A9"


def test_open_after_withdrawal_over_http_leaves_no_ip_or_user_agent(ctx, live_server, campaign):
    """R5/R17 end to end: the requester's address and user agent are never stored, the stored
    open is forgotten by the withdrawal, and a later hit on the earlier pixel stores nothing
    personal."""
    from clearpixel.consent import record_decision
    from clearpixel.domain.ledger import Method
    from tests.ingest.builders import find_text_anywhere

    campaign_id, _, contact = campaign
    path = f"/o/{pixel_token(ctx, campaign_id, contact)}.gif"
    marker_ua = UA + " LeakMarker/7"
    request(live_server.url, path, headers={"User-Agent": marker_ua})
    assert eventually(lambda: hit_count(ctx) == 1)
    assert find_text_anywhere(ctx, ["LeakMarker", "127.0.0."]) == []  # not even while consenting
    assert [e["contact_id"] for e in rows(ctx, "personal_events")] == [contact]

    record_decision(
        ctx.db,
        contact,
        revoked=1,
        method=Method.PREFERENCE_PAGE,
        now=ctx.now(),
        cooldown=ctx.cooldown,
    )
    assert_gif(*request(live_server.url, path, headers={"User-Agent": marker_ua}))
    assert eventually(lambda: hit_count(ctx) == 2)
    assert find_text_anywhere(ctx, ["LeakMarker", "127.0.0."]) == []
    assert rows(ctx, "personal_events") == []
    assert drop_count(ctx, "withdrawn") == 1
