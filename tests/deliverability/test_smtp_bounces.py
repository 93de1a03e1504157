"""A real SMTP server refuses chosen recipients: 550 5.1.1 at RCPT TO is a hard bounce and
suppresses at once, 451 after the retries is a soft bounce that suppresses only at the
threshold, and failures that are not about the recipient are no bounce at all."""

from __future__ import annotations

from datetime import timedelta

from clearpixel.deliverability import suppression
from clearpixel.domain.bounces import verp_token
from clearpixel.sending import campaigns
from clearpixel.sending.transports import SmtpConfig, SmtpTransport
from clearpixel.store.bounces import bounces_for, skipped_by_reason
from clearpixel.store.sends import count_by_status
from tests.conftest import FIXED_NOW
from tests.deliverability.conftest import BOUNCE_DOMAIN
from tests.helpers import make_list
from tests.sending.conftest import add_contacts

HTML = "<html><body><p>Hello</p><a href='https://x.example/a'>a</a></body></html>"
PEOPLE = [
    ("gone@example.org", 1, {}),
    ("later@example.org", None, {}),
    ("fine@example.org", 0, {}),
    ("Full@Example.org", None, {}),
]


def _send(ctx, smtp, *, list_name="newsletter", people=PEOPLE):
    list_id = make_list(ctx, list_name)
    ids = add_contacts(ctx, list_id, people)
    campaign = campaigns.create_campaign(
        ctx, list_name=list_name, kind="marketing", subject="Hello", html=HTML
    )
    report = campaigns.send_campaign(
        ctx, campaign.id, SmtpTransport(SmtpConfig.parse(smtp.url)), concurrency=2
    )
    return campaign, ids, report


def _events(ctx, email):
    with ctx.db.connect() as conn:
        return bounces_for(conn, email)


def test_550_is_a_hard_bounce_and_suppresses_at_once(bctx, refusing_smtp):
    refusing_smtp.handler.hard.add("gone@example.org")
    campaign, ids, report = _send(bctx, refusing_smtp)
    assert report.failed == 1 and report.sent == 3
    (event,) = _events(bctx, "gone@example.org")
    assert (event.kind, event.source, event.status) == ("hard", "smtp", "5.1.1")
    assert "User unknown" in event.diagnostic
    assert (event.campaign_id, event.contact_id) == (campaign.id, ids["gone@example.org"])
    listed = suppression.lookup(bctx, "GONE@example.org")
    assert listed is not None and listed.reason == "hard_bounce"
    assert listed.evidence["status"] == "5.1.1"
    assert suppression.lookup(bctx, "fine@example.org") is None


def test_451_after_retries_is_soft_and_suppresses_only_at_the_threshold(bctx, refusing_smtp):
    refusing_smtp.handler.soft.add("later@example.org")
    campaign, _ids, report = _send(bctx, refusing_smtp)
    assert report.deferred == 1
    # retries=2 in the URL: three tries, then one soft bounce
    assert refusing_smtp.handler.rcpt_attempts.count("later@example.org") == 3
    (event,) = _events(bctx, "later@example.org")
    assert (event.kind, event.status) == ("soft", "4.2.1")
    assert suppression.lookup(bctx, "later@example.org") is None, "one soft bounce of 2"
    # the next run tries the pending row again: the second soft bounce reaches the limit
    bctx.now = lambda: FIXED_NOW + timedelta(days=1)
    campaigns.send_campaign(bctx, campaign.id, SmtpTransport(SmtpConfig.parse(refusing_smtp.url)))
    assert len(_events(bctx, "later@example.org")) == 2
    listed = suppression.lookup(bctx, "later@example.org")
    assert listed is not None and listed.reason == "soft_bounce_threshold"


def test_soft_bounces_outside_the_window_do_not_add_up(bctx, refusing_smtp):
    refusing_smtp.handler.soft.add("later@example.org")
    campaign, _ids, _ = _send(bctx, refusing_smtp)
    bctx.now = lambda: FIXED_NOW + timedelta(days=31)  # window: 30 days
    campaigns.send_campaign(bctx, campaign.id, SmtpTransport(SmtpConfig.parse(refusing_smtp.url)))
    assert len(_events(bctx, "later@example.org")) == 2
    assert suppression.lookup(bctx, "later@example.org") is None


def test_a_full_mailbox_is_a_soft_bounce_even_with_a_5xx(bctx, refusing_smtp):
    refusing_smtp.handler.full.add("Full@Example.org")
    _send(bctx, refusing_smtp)
    (event,) = _events(bctx, "full@example.org")
    assert (event.kind, event.status) == ("soft", "5.2.2")
    assert suppression.lookup(bctx, "full@example.org") is None


def test_a_message_refused_for_its_content_is_no_bounce_of_anyone(bctx, refusing_smtp):
    refusing_smtp.handler.data_reply = "554 5.7.1 Message rejected as spam"
    _campaign, _ids, report = _send(bctx, refusing_smtp)
    assert report.failed == len(PEOPLE)
    for email, _, _ in PEOPLE:
        assert _events(bctx, email) == []
        assert suppression.lookup(bctx, email) is None


def test_an_unreachable_server_is_no_bounce(bctx):
    from tests.deliverability.conftest import free_port

    list_id = make_list(bctx)
    add_contacts(bctx, list_id, PEOPLE[:1])
    campaign = campaigns.create_campaign(
        bctx, list_name="newsletter", kind="marketing", subject="Hello", html=HTML
    )
    url = f"smtp://127.0.0.1:{free_port()}?backoff=0.01&retries=1&timeout=2"
    report = campaigns.send_campaign(bctx, campaign.id, SmtpTransport(SmtpConfig.parse(url)))
    assert report.deferred == 1
    assert _events(bctx, "gone@example.org") == []
    assert suppression.lookup(bctx, "gone@example.org") is None


def test_the_envelope_sender_is_a_verp_address_naming_campaign_and_contact(bctx, refusing_smtp):
    campaign, ids, _ = _send(bctx, refusing_smtp)
    assert len(refusing_smtp.handler.accepted) == len(PEOPLE)
    senders = set()
    for mail_from, rcpt, data in refusing_smtp.handler.accepted:
        local, _, domain = mail_from.partition("@")
        assert domain == BOUNCE_DOMAIN and len(local) <= 64
        assert local == local.lower(), "survives a relay that folds the case"
        token = verp_token(bctx.signer, mail_from.upper(), domain=BOUNCE_DOMAIN)
        assert (token.campaign_id, token.contact_id) == (campaign.id, ids[rcpt])
        assert rcpt.split("@")[0].lower() not in mail_from.lower()
        assert f"Feedback-ID: {campaign.public_id}:marketing:".encode() in data
        senders.add(mail_from)
    assert len(senders) == len(PEOPLE)


def test_a_suppressed_address_is_skipped_by_the_next_send_and_counted(bctx, refusing_smtp):
    refusing_smtp.handler.hard.add("gone@example.org")
    _send(bctx, refusing_smtp)
    suppression.add(bctx, "fine@example.org", reason="manual", actor="test")
    refusing_smtp.handler.accepted.clear()
    refusing_smtp.handler.rcpt_attempts.clear()
    second, _ids, report = _send(
        bctx, refusing_smtp, list_name="second", people=[(e, f, a) for e, f, a in PEOPLE]
    )
    assert report.skipped == 2
    assert "gone@example.org" not in refusing_smtp.handler.rcpt_attempts
    assert "fine@example.org" not in refusing_smtp.handler.rcpt_attempts
    with bctx.db.connect() as conn:
        assert skipped_by_reason(conn, second.id) == {"suppressed": 2}
        assert count_by_status(conn, second.id) == {"sent": 2, "skipped": 2}
