"""`POST /webhooks/bounce/generic` over real HTTP: a signed relay report records bounces and
complaints; an unsigned, forged, replayed or stale request gets 401 and records nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import pytest

from clearpixel.deliverability import suppression
from clearpixel.domain.bounces import verp_address
from clearpixel.domain.webhooks import signature_header
from clearpixel.store.bounces import bounces_for
from clearpixel.web.server import ThreadedServer
from tests.conftest import FIXED_NOW
from tests.deliverability.conftest import BOUNCE_DOMAIN, RELAY_SECRET, context_for

NOW = int(FIXED_NOW.timestamp())
PATH = "/webhooks/bounce/generic"


@pytest.fixture
def http(bctx) -> Iterator[httpx2.Client]:
    with ThreadedServer(bctx) as server, httpx2.Client(base_url=server.url) as client:
        yield client


def _body(bctx) -> bytes:
    verp = verp_address(bctx.signer, campaign_id=7, contact_id=42, domain=BOUNCE_DOMAIN)
    return json.dumps(
        {
            "events": [
                {
                    "type": "bounce",
                    "bounce_type": "hard",
                    "recipient": "Ada@Example.org",
                    "return_path": verp,
                    "status": "5.1.1",
                    "diagnostic": "550 5.1.1 user unknown",
                },
                {"type": "complaint", "recipient": "bob@example.org"},
            ]
        }
    ).encode()


def _signed(body: bytes, *, secret: str = RELAY_SECRET, stamp: int = NOW) -> dict[str, str]:
    return {
        "Clearpixel-Timestamp": str(stamp),
        "Clearpixel-Signature": signature_header(secret.encode(), stamp, body),
        "Content-Type": "application/json",
    }


def _nothing_recorded(bctx) -> None:
    for email in ("ada@example.org", "bob@example.org"):
        assert suppression.lookup(bctx, email) is None
        with bctx.db.connect() as conn:
            assert bounces_for(conn, email) == []


def test_a_signed_report_records_bounces_and_complaints(bctx, http):
    body = _body(bctx)
    answer = http.post(PATH, content=body, headers=_signed(body))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"recorded": 2}
    with bctx.db.connect() as conn:
        (hard,) = bounces_for(conn, "ada@example.org")
    assert (hard.kind, hard.status, hard.source) == ("hard", "5.1.1", "webhook:generic")
    assert (hard.campaign_id, hard.contact_id) == (7, 42), "attributed by its VERP token"
    assert suppression.lookup(bctx, "ada@example.org").reason == "hard_bounce"
    assert suppression.lookup(bctx, "bob@example.org").reason == "complaint"


def test_unsigned_forged_replayed_or_stale_requests_get_401_and_record_nothing(bctx, http):
    body = _body(bctx)
    good = _signed(body)
    attempts = [
        {"Content-Type": "application/json"},
        {**good, "Clearpixel-Signature": ""},
        _signed(body, secret="a-guessed-secret-0123456789"),
        {**good, "Clearpixel-Signature": good["Clearpixel-Signature"][:-1] + "0"},
        _signed(body, stamp=NOW - 301),  # captured and replayed after the window
        _signed(body, stamp=NOW + 400),
        {**good, "Clearpixel-Timestamp": "not-a-number"},
    ]
    for headers in attempts:
        answer = http.post(PATH, content=body, headers=headers)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.json()["error"]["code"] == "unauthorized"
    # a valid signature over another body does not carry over to this one
    other = b'{"events": []}'
    answer = http.post(PATH, content=body, headers=_signed(other))
    assert answer.status_code == 401
    _nothing_recorded(bctx)


def test_a_signed_but_malformed_report_is_refused_whole(bctx, http):
    events = json.loads(_body(bctx))["events"] + [{"type": "bounce", "recipient": "x@y.org"}]
    body = json.dumps({"events": events}).encode()
    answer = http.post(PATH, content=body, headers=_signed(body))
    assert answer.status_code == 400
    assert "bounce_type" in answer.json()["error"]["message"]
    _nothing_recorded(bctx)


def test_unknown_providers_and_oversized_bodies(bctx, http):
    body = _body(bctx)
    assert (
        http.post("/webhooks/bounce/nope", content=body, headers=_signed(body)).status_code == 404
    )
    huge = b"x" * (1024 * 1024 + 1)
    assert http.post(PATH, content=huge, headers=_signed(huge)).status_code == 413
    _nothing_recorded(bctx)


def test_without_a_configured_secret_everything_is_refused(ctx, live_server):
    body = b'{"events": [{"type": "complaint", "recipient": "bob@example.org"}]}'
    for secret in ("", RELAY_SECRET):
        headers = _signed(body, secret=secret) if secret else {}
        answer = httpx2.post(f"{live_server.url}{PATH}", content=body, headers=headers)
        assert answer.status_code == 401
    assert suppression.lookup(ctx, "bob@example.org") is None


POSTMARK_AUTH = "postmark:pm-0123456789abcdef"


@pytest.fixture
def postmark_http(bounce_settings) -> Iterator[tuple[object, httpx2.Client]]:
    settings = bounce_settings.model_copy(update={"postmark_webhook_auth": POSTMARK_AUTH})
    with (
        context_for(settings) as context,
        ThreadedServer(context) as server,
        httpx2.Client(base_url=server.url) as client,
    ):
        yield context, client


POSTMARK_BOUNCE = {
    "RecordType": "Bounce",
    "ID": 4323372036854775807,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "MessageStream": "outbound",
    "Description": "The server was unable to deliver your message (ex: unknown user).",
    "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    "Email": "Ada@Example.org",
    "From": "news@example.org",
    "BouncedAt": "2026-11-02T09:31:00Z",
    "Inactive": True,
}


def test_postmark_bounces_and_complaints_with_its_credentials(postmark_http):
    ctx, http = postmark_http
    user, password = POSTMARK_AUTH.split(":")
    url = "/webhooks/bounce/postmark"
    answer = http.post(url, json=POSTMARK_BOUNCE, auth=(user, password))
    assert answer.json() == {"recorded": 1}
    complaint = {"RecordType": "SpamComplaint", "Type": "SpamComplaint", "Email": "b@x.org"}
    assert http.post(url, json=complaint, auth=(user, password)).json() == {"recorded": 1}
    auto = {**POSTMARK_BOUNCE, "Type": "AutoResponder", "Email": "c@x.org"}
    assert http.post(url, json=auto, auth=(user, password)).json() == {"recorded": 0}
    with ctx.db.connect() as conn:
        (event,) = bounces_for(conn, "ada@example.org")
    assert (event.kind, event.status, event.source) == ("hard", "5.1.1", "webhook:postmark")
    assert suppression.lookup(ctx, "ada@example.org").reason == "hard_bounce"
    assert suppression.lookup(ctx, "b@x.org").reason == "complaint"
    assert suppression.lookup(ctx, "c@x.org") is None


def test_postmark_without_or_with_wrong_credentials_gets_401(postmark_http):
    ctx, http = postmark_http
    url = "/webhooks/bounce/postmark"
    for auth in (None, ("postmark", "guess"), ("other", "pm-0123456789abcdef")):
        answer = http.post(url, json=POSTMARK_BOUNCE, auth=auth)
        assert answer.status_code == 401
    bearer = http.post(url, json=POSTMARK_BOUNCE, headers={"Authorization": "Basic !!!"})
    assert bearer.status_code == 401
    assert suppression.lookup(ctx, "ada@example.org") is None
