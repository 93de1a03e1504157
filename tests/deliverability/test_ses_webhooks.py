"""Amazon SES notifications through SNS to `POST /webhooks/bounce/ses`, over real HTTP, with
SNS's signature checked for real: the signing certificate is fetched over HTTPS from a local
server whose CA is trusted as a system CA would be. Signed bounces and complaints suppress and
show in the campaign report; a forged signature, a certificate from another host, an old or
future timestamp, another topic and a huge body are refused and change nothing stored."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from clearpixel.deliverability import suppression
from clearpixel.domain.bounces import verp_address
from clearpixel.reports.deliverability import deliverability_figures
from clearpixel.sending import campaigns
from clearpixel.sending.transports import SmtpConfig, SmtpTransport
from clearpixel.store.bounces import bounces_for
from clearpixel.web.server import ThreadedServer
from tests.conftest import FIXED_NOW
from tests.deliverability.conftest import BOUNCE_DOMAIN, context_for
from tests.deliverability.sns import (
    TOPIC,
    SnsSite,
    notification,
    ses_bounce,
    ses_complaint,
    sns_site,
)
from tests.helpers import make_list
from tests.sending.conftest import add_contacts

PATH = "/webhooks/bounce/ses"
HTML = "<html><body><p>Hello</p></body></html>"
PEOPLE = ("ada@example.org", "bob@example.org", "cy@example.org")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SnsSite]:
    with sns_site(tmp_path) as served:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
        yield served


@pytest.fixture
def ses(bounce_settings, site) -> Iterator[tuple[object, httpx2.Client]]:
    settings = bounce_settings.model_copy(
        update={"ses_topic_arns": [TOPIC], "ses_sns_host_pattern": "localhost"}
    )
    with (
        context_for(settings) as context,
        ThreadedServer(context) as server,
        httpx2.Client(base_url=server.url, timeout=30) as client,
    ):
        yield context, client


@pytest.fixture
def delivered(ses, refusing_smtp):
    """A campaign delivered to three people; their VERP return paths as the server saw them."""
    ctx, _ = ses
    ids = add_contacts(ctx, make_list(ctx), [(e, None, {}) for e in PEOPLE])
    campaign = campaigns.create_campaign(
        ctx, list_name="newsletter", kind="marketing", subject="Hello", html=HTML
    )
    campaigns.send_campaign(ctx, campaign.id, SmtpTransport(SmtpConfig.parse(refusing_smtp.url)))
    paths = {rcpt: mail_from for mail_from, rcpt, _ in refusing_smtp.handler.accepted}
    return campaign, ids, paths


def _post(client: httpx2.Client, message: dict[str, str] | bytes) -> httpx2.Response:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    headers = {"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "x"}
    return client.post(PATH, content=body, headers=headers)


def _nothing_stored(ctx) -> None:
    for email in PEOPLE:
        assert suppression.lookup(ctx, email) is None
        with ctx.db.connect() as conn:
            assert bounces_for(conn, email) == []


def test_signed_bounces_and_complaints_suppress_and_show_in_the_report(ses, site, delivered):
    ctx, client = ses
    campaign, ids, paths = delivered
    hard = site.sign(notification(ses_bounce("ada@example.org", source=paths["ada@example.org"])))
    answer = _post(client, hard)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"recorded": 1}
    complaint = ses_complaint("bob@example.org", return_path=paths["bob@example.org"])
    assert _post(client, site.sign(notification(complaint), version="2")).json() == {"recorded": 1}
    soft = ses_bounce("cy@example.org", source=paths["cy@example.org"], bounce_type="Transient")
    assert _post(client, site.sign(notification(soft))).json() == {"recorded": 1}
    delivery = {"notificationType": "Delivery", "mail": {"source": paths["cy@example.org"]}}
    assert _post(client, site.sign(notification(delivery))).json() == {"recorded": 0}

    with ctx.db.connect() as conn:
        (bounce,) = bounces_for(conn, "ada@example.org")
        (complained,) = bounces_for(conn, "bob@example.org")
        (transient,) = bounces_for(conn, "cy@example.org")
    assert (bounce.kind, bounce.status, bounce.source) == ("hard", "5.1.1", "webhook:ses")
    assert bounce.diagnostic == "smtp; 550 5.1.1 user unknown"
    assert bounce.evidence["bounce_subtype"] == "General"
    assert (bounce.campaign_id, bounce.contact_id) == (campaign.id, ids["ada@example.org"])
    assert complained.kind == "complaint" and complained.evidence["feedback_type"] == "abuse"
    assert (complained.campaign_id, complained.contact_id) == (campaign.id, ids["bob@example.org"])
    assert (transient.kind, transient.status) == ("soft", "4.2.2")
    assert transient.evidence["bounce_subtype"] == "MailboxFull"
    assert suppression.lookup(ctx, "ada@example.org").reason == "hard_bounce"
    assert suppression.lookup(ctx, "bob@example.org").reason == "complaint"
    assert suppression.lookup(ctx, "cy@example.org") is None, "one soft bounce of a limit of 2"

    figures = deliverability_figures(ctx, campaign.id)
    assert (figures.hard_bounces.numerator, figures.soft_bounces.numerator) == (1, 1)
    assert (figures.complaints.numerator, figures.attempted) == (1, 3)
    assert site.hits == ["/SimpleNotificationService-test.pem"], "fetched once, then cached"


def test_without_a_verp_token_the_event_stands_for_the_address(ses, site):
    ctx, client = ses
    forged = verp_address(ctx.signer, campaign_id=1, contact_id=2, domain="elsewhere.example")
    message = site.sign(notification(ses_bounce("ada@example.org", source=forged)))
    assert _post(client, message).json() == {"recorded": 1}
    with ctx.db.connect() as conn:
        (bounce,) = bounces_for(conn, "ada@example.org")
    assert (bounce.campaign_id, bounce.contact_id) == (None, None)
    assert suppression.lookup(ctx, "ada@example.org").reason == "hard_bounce"


def _refused(client, message, expected: str, status: int = 401) -> None:
    answer = _post(client, message)
    assert answer.status_code == status, answer.text
    assert expected in answer.json()["error"]["message"], answer.text


def test_untrustworthy_messages_are_refused_and_change_nothing(ses, site):
    ctx, client = ses
    bounce = notification(ses_bounce("ada@example.org", source=f"x@{BOUNCE_DOMAIN}"))
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tampered = site.sign(bounce)
    tampered["Message"] = tampered["Message"].replace("ada@", "bob@")

    # the cheap checks come first: none of these makes the endpoint fetch anything
    _refused(client, site.sign({**bounce, "TopicArn": TOPIC + "-other"}), "is not one of")
    old = notification(json.loads(bounce["Message"]), at=FIXED_NOW - timedelta(seconds=3601))
    _refused(client, site.sign(old), "older than 3600 s")
    future = notification(json.loads(bounce["Message"]), at=FIXED_NOW + timedelta(minutes=6))
    _refused(client, site.sign(future), "in the future")
    _refused(client, site.sign(bounce, version="3"), "SignatureVersion")
    elsewhere = site.url("/SimpleNotificationService-test.pem", host="127.0.0.1")
    _refused(client, site.sign(bounce, cert_url=elsewhere), "not an https URL of Amazon SNS")
    plain = site.cert_url.replace("https://", "http://")
    _refused(client, site.sign(bounce, cert_url=plain), "not an https URL of Amazon SNS")
    assert site.hits == []

    _refused(client, site.sign(bounce, key=other_key), "signature does not match")
    _refused(client, tampered, "signature does not match")
    _refused(client, {**site.sign(bounce), "Signature": "not base64!"}, "signature does not")
    _refused(client, b"x" * (1024 * 1024 + 1), "larger than 1 MB", status=413)
    _refused(client, b"<xml/>", "not an SNS message", status=400)
    _nothing_stored(ctx)


def test_without_a_configured_topic_everything_is_refused(bounce_settings, site):
    settings = bounce_settings.model_copy(update={"ses_sns_host_pattern": "localhost"})
    with (
        context_for(settings) as ctx,
        ThreadedServer(ctx) as server,
        httpx2.Client(base_url=server.url) as client,
    ):
        message = site.sign(notification(ses_bounce("ada@example.org", source="x@y.org")))
        _refused(client, message, "CLEARPIXEL_SES_TOPIC_ARNS")
        _nothing_stored(ctx)


def _subscription(site: SnsSite, subscribe_url: str) -> dict[str, str]:
    return site.sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92",
            "TopicArn": TOPIC,
            "Message": f"You have chosen to subscribe to the topic {TOPIC}.",
            "SubscribeURL": subscribe_url,
            "Timestamp": FIXED_NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        },
        version="2",
    )


def test_a_signed_subscription_is_confirmed_at_its_sns_url_only(ses, site, caplog):
    _, client = ses
    confirm = site.url(f"/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336")
    assert _post(client, _subscription(site, confirm)).json() == {"recorded": 0}
    assert site.hits[-1] == f"/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336"

    before = len(site.hits)
    caplog.set_level(logging.WARNING, logger="clearpixel.bounces")
    elsewhere = site.url("/?Action=ConfirmSubscription&Token=x", host="127.0.0.1")
    assert _post(client, _subscription(site, elsewhere)).json() == {"recorded": 0}
    assert len(site.hits) == before, "a SubscribeURL off SNS is never visited"
    (warning,) = [r.getMessage() for r in caplog.records if "confirm it by hand" in r.getMessage()]
    assert elsewhere in warning and "not an https URL of Amazon SNS" in warning

    unsigned = {**_subscription(site, confirm), "Signature": ""}
    _refused(client, unsigned, "signature does not match")
    assert len(site.hits) == before


def test_a_redelivered_notification_is_recorded_once(ses, site, delivered):
    ctx, client = ses
    _, _, paths = delivered
    soft = ses_bounce("cy@example.org", source=paths["cy@example.org"], bounce_type="Transient")
    message = site.sign(notification(soft))
    assert _post(client, message).json() == {"recorded": 1}
    # SNS retries a delivery it thinks failed, and may deliver twice anyway
    assert _post(client, message).json() == {"recorded": 0}
    assert _post(client, site.sign(notification(soft))).json() == {"recorded": 0}
    with ctx.db.connect() as conn:
        (stored,) = bounces_for(conn, "cy@example.org")
    at = stored.at if stored.at.tzinfo else stored.at.replace(tzinfo=UTC)  # SQLite: naive UTC
    assert at == datetime(2026, 11, 2, 9, 29, 58, tzinfo=UTC), "SES's time of the bounce"
    assert suppression.lookup(ctx, "cy@example.org") is None, "counted once of a limit of 2"
    later = {**soft, "bounce": {**soft["bounce"], "timestamp": "2026-11-02T09:29:59.000Z"}}
    assert _post(client, site.sign(notification(later))).json() == {"recorded": 1}
    assert suppression.lookup(ctx, "cy@example.org").reason == "soft_bounce_threshold"
