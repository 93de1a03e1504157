"""A marketing campaign sent over real SMTP to contacts with NULL, 0, 1 and 3 flags."""

from __future__ import annotations

import re

import pytest

from clearpixel.domain.policy import TrackingMode
from clearpixel.domain.tokens import BadSignature, MalformedToken, TokenError, TokenKind
from clearpixel.sending import campaigns
from clearpixel.sending.transports import SmtpConfig, SmtpTransport
from clearpixel.store.campaigns import get_links
from clearpixel.store.sends import get_send
from tests.helpers import make_list
from tests.sending.conftest import add_contacts
from tests.sending.messages import parse, parts, scan
from tests.sending.templates import NEWSLETTER

BASE = "https://mail.example.test"
PIXEL = re.compile(re.escape(BASE) + r"/o/([A-Za-z0-9_-]+)\.gif")


def leaky(i: int) -> dict[str, object]:
    return {
        "first_name": f"Zoé{i}x",
        "customer_id": f"CUST-99{i}17",
        "email": f"attr-leak{i}@example.net",
        "locale": "fr" if i % 2 else "en",
    }


PEOPLE = [
    ("null0@example.org", None),
    ("zero1@example.org", 0),
    ("one2@example.org", 1),
    ("three3@example.org", 3),
    ("null4@example.org", None),
    ("two5@example.org", 2),
    ("one6@example.org", 1),
]


@pytest.fixture
def sent(ctx, smtp_server):
    list_id = make_list(ctx)
    ids = add_contacts(ctx, list_id, [(e, f, leaky(i)) for i, (e, f) in enumerate(PEOPLE)])
    campaign = campaigns.create_campaign(
        ctx,
        list_name="newsletter",
        kind="marketing",
        subject="News for {{ first_name }}",
        html=NEWSLETTER,
        from_addr="News <news@example.org>",
    )
    report = campaigns.send_campaign(
        ctx, campaign.id, SmtpTransport(SmtpConfig.parse(smtp_server.url)), concurrency=2
    )
    by_rcpt = {m.recipients[0]: parse(m.data) for m in smtp_server.messages}
    return campaign, ids, report, by_rcpt


def test_every_recipient_gets_exactly_one_message(sent):
    _campaign, _ids, report, by_rcpt = sent
    assert report.sent == len(PEOPLE)
    assert sorted(by_rcpt) == sorted(e for e, _ in PEOPLE)
    assert report.by_status == {"sent": len(PEOPLE)}


def test_consented_recipients_get_distinct_pixels_that_verify_to_them(ctx, sent):
    campaign, ids, _, by_rcpt = sent
    seen = set()
    for email, flags in PEOPLE:
        if flags is None or not flags & 1:
            continue
        _, html = parts(by_rcpt[email])
        (token,) = PIXEL.findall(html)
        verified = ctx.signer.verify(token, TokenKind.PIXEL)
        assert verified.contact_id == ids[email]
        assert verified.campaign_id == campaign.id
        assert verified.purposes == flags
        seen.add(token)
        with ctx.db.connect() as conn:
            row = get_send(conn, campaign.id, ids[email])
        assert row["mode"] == TrackingMode.PERSONAL and row["purposes"] == flags
    assert len(seen) == 3


def test_everyone_else_gets_the_identical_anonymous_tag_and_nothing_personal_autoloaded(ctx, sent):
    campaign, ids, _, by_rcpt = sent
    others = [(e, f) for e, f in PEOPLE if f is None or not f & 1]
    tags, autoloaded_sets = set(), set()
    for i, (email, _) in enumerate(PEOPLE):
        if (email, dict(PEOPLE)[email]) not in others:
            continue
        _, html = parts(by_rcpt[email])
        found = scan(html)
        pixel_tags = [t for t in found.images if BASE in t]
        assert len(pixel_tags) == 1
        tags.add(pixel_tags[0])
        assert f"{BASE}/o/a/{campaign.public_id}.gif" in pixel_tags[0]
        assert found.autoloaded, "the template's images are still there"
        for url in found.autoloaded:
            assert "/o/" not in url or url == f"{BASE}/o/a/{campaign.public_id}.gif"
            assert str(ids[email]) not in re.split(r"[^A-Za-z0-9]+", url), (email, url)
            for secret in (email, *map(str, leaky(i).values())):
                if secret in ("fr", "en"):
                    continue
                assert secret not in url, (email, url)
        autoloaded_sets.add(tuple(found.autoloaded))
        with ctx.db.connect() as conn:
            assert get_send(conn, campaign.id, ids[email])["mode"] == TrackingMode.ANONYMOUS
    assert len(tags) == 1, "R2: byte-identical anonymous pixel tag"
    assert len(autoloaded_sets) == 1, "R1: auto-loaded URLs identical for all of them"


def test_links_are_rewritten_to_click_tokens_of_registered_urls(ctx, sent):
    campaign, ids, _, by_rcpt = sent
    with ctx.db.connect() as conn:
        links = get_links(conn, campaign.id)
    assert links == {
        1: "https://shop.example.com/sale?src=mail&x=1",
        2: "https://blog.example.com/post",
    }
    for email, _ in PEOPLE:
        _, html = parts(by_rcpt[email])
        hrefs = scan(html).links
        clicks = [h for h in hrefs if h.startswith(f"{BASE}/c/")]
        assert len(clicks) == 3
        verified = [ctx.signer.verify(h.rsplit("/", 1)[1], TokenKind.CLICK) for h in clicks]
        assert [v.link_id for v in verified] == [1, 2, 1]
        assert {v.contact_id for v in verified} == {ids[email]}
        assert "mailto:help@example.com" in hrefs and "tel:+331234" in hrefs and "#top" in hrefs
        customer = next(v for k, v in leaky(0).items() if k == "customer_id")
        assert any(h.startswith("https://shop.example.com/account/CUST-") for h in hrefs)
        assert customer  # personalised links stay as written (not auto-loaded)


def test_marketing_mail_has_preferences_footer_and_one_click_unsubscribe(ctx, sent):
    campaign, ids, _, by_rcpt = sent
    for email, _ in PEOPLE:
        message = by_rcpt[email]
        assert message["Message-ID"] == f"<{campaign.public_id}.{ids[email]}@example.org>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https, mailto = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
        token = https.removeprefix(f"{BASE}/unsubscribe/")
        assert ctx.signer.verify(token, TokenKind.UNSUBSCRIBE).contact_id == ids[email]
        assert mailto == f"mailto:unsubscribe@example.org?subject=unsubscribe-{token}"
        text, html = parts(message)
        prefs = re.findall(re.escape(BASE) + r"/preferences/([A-Za-z0-9_-]+)", html)
        assert prefs and ctx.signer.verify(prefs[0], TokenKind.PREFERENCES).contact_id == ids[email]
        assert f"{BASE}/preferences/{prefs[0]}" in text
        assert "Hello Zoé" in text and "Hello Zoé" in html
        assert message["Subject"].startswith("News for Zoé")


def test_footer_language_follows_the_locale_attribute(sent):
    _, _, _, by_rcpt = sent
    _, html_fr = parts(by_rcpt["zero1@example.org"])
    _, html_en = parts(by_rcpt["null0@example.org"])
    assert "Refuser le suivi des ouvertures" in html_fr and "Refuse open tracking" in html_en


@pytest.mark.parametrize("kind", [TokenKind.PIXEL, TokenKind.CLICK])
def test_tampered_tokens_from_a_sent_message_fail_verification(ctx, sent, kind):
    _, _, _, by_rcpt = sent
    _, html = parts(by_rcpt["one2@example.org"])
    if kind is TokenKind.PIXEL:
        token = PIXEL.findall(html)[0]
    else:
        token = next(h for h in scan(html).links if "/c/" in h).rsplit("/", 1)[1]
    assert ctx.signer.verify(token, kind)
    for i in range(len(token)):
        swapped = "A" if token[i] != "A" else "B"
        tampered = token[:i] + swapped + token[i + 1 :]
        with pytest.raises(TokenError) as info:
            ctx.signer.verify(tampered, kind)
        assert isinstance(info.value, BadSignature | MalformedToken)
