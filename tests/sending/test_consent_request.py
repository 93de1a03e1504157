"""Consent requests (R3, R8, R14): no pixel, links as written, one consent link per recipient,
sent only to contacts without consent and outside the cool-down, which the send starts."""

from __future__ import annotations

import re
from datetime import timedelta

from clearpixel.domain.tokens import TokenKind
from clearpixel.sending import campaigns
from clearpixel.sending.transports import SmtpConfig, SmtpTransport
from clearpixel.store.contacts import get_contact, set_cooldown, set_status
from tests.conftest import FIXED_NOW
from tests.helpers import make_list
from tests.sending.conftest import add_contacts
from tests.sending.messages import parse, parts, scan
from tests.sending.templates import CONSENT_REQUEST

BASE = "https://mail.example.test"


def _setup(ctx):
    list_id = make_list(ctx)
    ids = add_contacts(
        ctx,
        list_id,
        [
            ("never@example.org", None, {"first_name": "Ann", "customer_id": "C-1"}),
            ("refused-long-ago@example.org", 0, {"first_name": "Bob"}),
            ("consents@example.org", 1, {"first_name": "Cy"}),
            ("consents-all@example.org", 3, {"first_name": "Di"}),
            ("cooling@example.org", None, {"first_name": "Ed"}),
            ("gone@example.org", None, {"first_name": "Flo"}),
            ("personalisation@example.org", 2, {"first_name": "Gus"}),
        ],
    )
    with ctx.db.begin() as tx:
        # contact 1 refused more than a cool-down ago: the cool-down is over
        set_cooldown(tx, [ids["refused-long-ago@example.org"]], FIXED_NOW - timedelta(days=1))
        set_cooldown(tx, [ids["cooling@example.org"]], FIXED_NOW + timedelta(days=30))
        set_status(tx, ids["gone@example.org"], "unsubscribed", now=FIXED_NOW)
    return ids


def _send(ctx, smtp_server):
    campaign = campaigns.create_campaign(
        ctx,
        list_name="newsletter",
        kind="consent_request",
        subject="May we?",
        html=CONSENT_REQUEST,
    )
    report = campaigns.send_campaign(
        ctx, campaign.id, SmtpTransport(SmtpConfig.parse(smtp_server.url))
    )
    return campaign, report


def test_consent_request_goes_only_to_contacts_without_consent_outside_cooldown(ctx, smtp_server):
    _setup(ctx)
    _, report = _send(ctx, smtp_server)
    assert sorted(m.recipients[0] for m in smtp_server.messages) == [
        "never@example.org",
        "personalisation@example.org",
        "refused-long-ago@example.org",
    ]
    assert report.sent == 3


def test_consent_request_has_no_pixel_no_rewritten_link_and_a_unique_consent_link(ctx, smtp_server):
    ids = _setup(ctx)
    campaign, _ = _send(ctx, smtp_server)
    consent_links = set()
    for received in smtp_server.messages:
        email = received.recipients[0]
        message = parse(received.data)
        text, html = parts(message)
        found = scan(html)
        assert not [t for t in found.images if BASE in t], "no <img> pointing at the platform"
        assert not [u for u in found.autoloaded if BASE in u]
        assert all("/c/" not in h for h in found.links), "no rewritten link"
        assert "https://example.com/about" in found.links
        consent = [h for h in found.links if h.startswith(f"{BASE}/consent/")]
        unsubscribe = [h for h in found.links if h.startswith(f"{BASE}/unsubscribe/")]
        assert len(consent) == 1 and len(unsubscribe) == 2  # template link and footer
        per_recipient = [h for h in found.links if BASE in h]
        assert set(per_recipient) == {consent[0], unsubscribe[0]}, "R3: nothing else"
        assert "/preferences/" not in html and "/preferences/" not in text
        token = ctx.signer.verify(
            consent[0].rsplit("/", 1)[1], TokenKind.CONSENT, now=FIXED_NOW.timestamp()
        )
        assert token.contact_id == ids[email] and token.campaign_id == campaign.id
        assert token.expires_at == int((FIXED_NOW + timedelta(days=30)).timestamp())
        consent_links.add(consent[0])
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert re.search(r"https://example.com/about", text)
    assert len(consent_links) == 3


def test_sending_a_consent_request_starts_the_cooldown_and_a_second_request_waits(ctx, smtp_server):
    ids = _setup(ctx)
    _send(ctx, smtp_server)
    with ctx.db.connect() as conn:
        until = get_contact(conn, ids["never@example.org"]).consent_cooldown_until
        untouched = get_contact(conn, ids["consents@example.org"]).consent_cooldown_until
    assert until is not None
    assert until.replace(tzinfo=until.tzinfo or FIXED_NOW.tzinfo) == FIXED_NOW + ctx.cooldown
    assert untouched is None
    before = len(smtp_server.messages)
    _, report = _send(ctx, smtp_server)
    assert report.sent == 0 and len(smtp_server.messages) == before
