"""Inbound bounce webhooks attacked over real HTTP: a captured report replayed within the
replay window, a Postmark report sent again, SNS messages whose certificate URL points at a
host that only looks like SNS's or at a file that is not an SNS certificate, an unsigned
subscription confirmation naming a URL of ours, and oversized bodies."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
import pytest

from clearpixel.config import Settings
from clearpixel.context import Context
from clearpixel.deliverability import suppression
from clearpixel.domain.webhooks import signature_header
from clearpixel.store.bounces import bounces_for
from clearpixel.web.server import ThreadedServer
from tests.conftest import FIXED_NOW
from tests.deliverability.conftest import context_for

SECRET = "relay-secret-for-the-attack-0123"
POSTMARK = "postmark:pm-secret-0123456789"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[Context, httpx2.Client]]:
    relay = settings.model_copy(
        update={
            "soft_bounce_limit": 2,
            "bounce_webhook_secrets": [SECRET],
            "postmark_webhook_auth": POSTMARK,
            "ses_topic_arns": [TOPIC],
        }
    )
    with (
        context_for(relay) as ctx,
        ThreadedServer(ctx) as server,
        httpx2.Client(base_url=server.url, timeout=30) as client,
    ):
        yield ctx, client


def _events(ctx: Context, email: str) -> int:
    with ctx.db.connect() as conn:
        return len(bounces_for(conn, email))


def test_a_replayed_soft_bounce_report_counts_once(served):
    """Replayed within the 5-minute window, one captured soft bounce used to count again each
    time, up to the soft-bounce limit: anyone who saw one report could suppress the address."""
    ctx, http = served
    body = json.dumps(
        {"events": [{"type": "bounce", "bounce_type": "soft", "recipient": "ada@example.org"}]}
    ).encode()
    stamp = int(FIXED_NOW.timestamp())
    headers = {
        "Clearpixel-Timestamp": str(stamp),
        "Clearpixel-Signature": signature_header(SECRET.encode(), stamp, body),
        "Content-Type": "application/json",
    }
    answers = [
        http.post("/webhooks/bounce/generic", content=body, headers=headers) for _ in range(3)
    ]
    assert [a.json() for a in answers] == [{"recorded": 1}, {"recorded": 0}, {"recorded": 0}]
    assert _events(ctx, "ada@example.org") == 1
    assert suppression.lookup(ctx, "ada@example.org") is None


def test_a_postmark_report_sent_again_counts_once(served):
    ctx, http = served
    report = {
        "RecordType": "Bounce",
        "Type": "SoftBounce",
        "Email": "bob@example.org",
        "BouncedAt": "2026-11-02T09:00:00Z",
        "ID": 42,
    }
    user, password = POSTMARK.split(":")
    for expected in (1, 0, 0):
        answer = http.post("/webhooks/bounce/postmark", json=report, auth=(user, password))
        assert answer.json() == {"recorded": expected}
    assert _events(ctx, "bob@example.org") == 1
    assert suppression.lookup(ctx, "bob@example.org") is None


def _sns(cert_url: str, **extra: str) -> dict[str, str]:
    return {
        "Type": "Notification",
        "MessageId": "0a6b7bd3-5b86-5a1e-9f4c-8f7e0b0c9d2a",
        "TopicArn": TOPIC,
        "Message": json.dumps({"notificationType": "Complaint"}),
        "Timestamp": FIXED_NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "SignatureVersion": "2",
        "Signature": "AAAA",
        "SigningCertURL": cert_url,
        **extra,
    }


@pytest.mark.parametrize(
    ("cert_url", "message"),
    [
        # the S3 bucket named "sns": a host the old pattern took for SNS's
        ("https://sns.s3.amazonaws.com/SimpleNotificationService-abc.pem", "not an https URL of"),
        ("https://sns.s3-external-1.amazonaws.com/x.pem", "not an https URL of Amazon SNS"),
        ("https://sns.eu-west-1.amazonaws.com.evil.example/x.pem", "not an https URL of"),
        ("https://sns.eu-west-1.amazonaws.com@evil.example/x.pem", "not an https URL of"),
        ("https://sns.eu-west-1.amazonaws.com/uploads/mine.pem", "not an SNS certificate"),
        (
            "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-a.pem?redirect=x",
            "not an SNS certificate",
        ),
    ],
)
def test_a_certificate_url_off_sns_is_refused_before_anything_is_fetched(served, cert_url, message):
    _ctx, http = served
    answer = http.post("/webhooks/bounce/ses", content=json.dumps(_sns(cert_url)))
    assert answer.status_code == 401
    assert message in answer.json()["error"]["message"]


def test_an_unsigned_subscription_never_makes_the_server_visit_its_url(served):
    _ctx, http = served
    visits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            visits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    inside = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=inside.serve_forever, daemon=True).start()
    try:
        ours = f"http://127.0.0.1:{inside.server_address[1]}/confirm"
        message = _sns(
            "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-a.pem",
            Type="SubscriptionConfirmation",
            SubscribeURL=ours,
            Token="x",
        )
        for cert in (ours, message["SigningCertURL"]):
            answer = http.post(
                "/webhooks/bounce/ses", content=json.dumps({**message, "SigningCertURL": cert})
            )
            assert answer.status_code == 401
    finally:
        inside.shutdown()
        inside.server_close()
    assert visits == []


@pytest.mark.parametrize("provider", ["generic", "postmark", "ses"])
def test_oversized_bodies_are_refused_unread(served, provider):
    _ctx, http = served
    huge = b'{"events": [' + b" " * (2 * 1024 * 1024) + b"]}"
    announced = http.post(f"/webhooks/bounce/{provider}", content=huge)
    assert announced.status_code == 413

    def streamed() -> Iterator[bytes]:
        for _ in range(32):
            yield b" " * (128 * 1024)

    chunked = http.post(f"/webhooks/bounce/{provider}", content=streamed())
    assert chunked.status_code == 413
