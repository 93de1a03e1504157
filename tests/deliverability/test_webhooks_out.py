"""Outgoing webhooks to a real local HTTP receiver: retries with back-off until a 2xx,
delivered once, every attempt in the log; the signature verifies with the README's own
snippet; consent decisions, unsubscriptions, bounces and suppressions all reach it, and an
action never waits for the receiver."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest

from clearpixel.consent import record_decision
from clearpixel.deliverability import suppression, webhooks
from clearpixel.deliverability.bounces import record
from clearpixel.domain.bounces import BounceEvent, BounceKind
from clearpixel.domain.ledger import Method
from clearpixel.domain.tokens import Token, TokenKind
from tests.conftest import FIXED_NOW
from tests.deliverability.receiver import receiver
from tests.helpers import make_contacts, make_list

README = Path(__file__).parents[2] / "README.md"


@pytest.fixture
def settings(settings):
    """The receivers here listen on loopback, which webhooks reach only when allowed."""
    return settings.model_copy(update={"webhook_allow_private": True})


def readme_verifier():
    """The verification snippet exactly as the README shows it."""
    text = README.read_text()
    found = re.search(r"<!-- webhook-verification -->\n```python\n(.*?)```", text, re.S)
    assert found, "the README has lost its verification snippet"
    namespace: dict[str, object] = {}
    exec(compile(found.group(1), "README.md", "exec"), namespace)
    return namespace["verify_clearpixel"]


def test_fails_twice_then_succeeds_delivered_once_and_logged(ctx, cli):
    with receiver([500, 502, 200]) as hook:
        endpoint = webhooks.add_endpoint(ctx, hook.url, ["address.suppressed"])
        suppression.add(ctx, "ada@example.org", reason="manual", actor="tester")
        first = webhooks.deliver_due(ctx)
        assert (first.delivered, first.retried) == (0, 1)
        assert webhooks.deliver_due(ctx).retried == 0, "not due again before the back-off"
        ctx.now = lambda: FIXED_NOW + timedelta(seconds=31)
        assert webhooks.deliver_due(ctx).retried == 1
        ctx.now = lambda: FIXED_NOW + timedelta(seconds=31 + 59)
        assert webhooks.deliver_due(ctx).retried == 0, "the second wait is twice as long"
        ctx.now = lambda: FIXED_NOW + timedelta(seconds=31 + 61)
        assert webhooks.deliver_due(ctx).delivered == 1
        ctx.now = lambda: FIXED_NOW + timedelta(days=1)
        assert webhooks.deliver_due(ctx).delivered == 0, "delivered once"
    assert len(hook.requests) == 3
    assert len({r.headers["Clearpixel-Delivery"] for r in hook.requests}) == 1
    event = json.loads(hook.requests[-1].body)
    assert event["type"] == "address.suppressed"
    assert event["data"]["address"] == "ada@example.org"
    assert event["data"]["reason"] == "manual"
    log = json.loads(cli("webhooks", "log", str(endpoint.id), "--json").output)
    assert [a["status_code"] for a in log] == [200, 502, 500]
    assert [a["delivery_status"] for a in log] == ["delivered"] * 3


def test_the_signature_verifies_with_the_readme_snippet_and_nothing_else(ctx):
    verify = readme_verifier()
    with receiver([200]) as hook:
        endpoint = webhooks.add_endpoint(ctx, hook.url, ["email.bounced"])
        record(
            ctx,
            [BounceEvent(BounceKind.SOFT, "bob@example.org", "smtp", FIXED_NOW, "4.2.1")],
        )
        webhooks.deliver_due(ctx)
    (request,) = hook.requests
    stamp = request.headers["Clearpixel-Timestamp"]
    signature = request.headers["Clearpixel-Signature"]
    now = int(FIXED_NOW.timestamp())
    assert int(stamp) == now
    assert verify(endpoint.secret, stamp, signature, request.body, now=now + 10)
    tampered = request.body.replace(b"bob@", b"eve@")
    assert not verify(endpoint.secret, stamp, signature, tampered, now=now)
    assert not verify("whsec_other", stamp, signature, request.body, now=now)
    assert not verify(endpoint.secret, stamp, signature, request.body, now=now + 301), "replay"
    assert not verify(endpoint.secret, str(now + 1), signature, request.body, now=now)


def test_an_unreachable_receiver_never_delays_the_action_and_is_retried(ctx):
    endpoint = webhooks.add_endpoint(
        ctx, "http://127.0.0.1:9/nothing-listens", ["address.suppressed"]
    )
    assert suppression.add(ctx, "cy@example.org", reason="manual", actor="tester")
    assert suppression.lookup(ctx, "cy@example.org") is not None
    run = webhooks.deliver_due(ctx)
    assert run.retried == 1
    (attempt,) = webhooks.delivery_log(ctx, endpoint.id)
    assert attempt.status_code is None and attempt.error
    assert attempt.delivery_status == "pending"


def test_consent_decisions_and_unsubscriptions_reach_the_endpoint(ctx, live_server):
    [before, cid] = make_contacts(ctx, make_list(ctx), [None, None])
    record_decision(
        ctx.db, before, granted=1, method=Method.API, now=ctx.now(), cooldown=ctx.cooldown,
        actor="api:key1",
    )  # fmt: skip
    with receiver([200]) as hook:
        webhooks.add_endpoint(ctx, hook.url, ["consent.decision_recorded", "contact.unsubscribed"])
        record_decision(
            ctx.db, cid, granted=1, method=Method.API, now=ctx.now(), cooldown=ctx.cooldown,
            actor="api:key1",
        )  # fmt: skip
        token = ctx.signer.sign(Token(TokenKind.UNSUBSCRIBE, cid))
        answer = httpx2.post(f"{live_server.url}/unsubscribe/{token}")
        assert answer.status_code == 200
        webhooks.run_once(ctx)
        webhooks.run_once(ctx)
    events = [json.loads(r.body) for r in hook.requests]
    assert sorted(e["type"] for e in events) == [
        "consent.decision_recorded",
        "contact.unsubscribed",
    ], "the decision made before the endpoint existed is not replayed; none is sent twice"
    decision = next(e for e in events if e["type"] == "consent.decision_recorded")["data"]
    assert decision["contact_id"] == cid and decision["granted"] == ["open_tracking"]
    assert decision["method"] == "api" and decision["actor"] == "api:key1"
    unsubscribed = next(e for e in events if e["type"] == "contact.unsubscribed")["data"]
    assert unsubscribed["contact_id"] == cid


def test_removed_endpoints_get_nothing_and_only_subscribed_events_go_out(ctx):
    with receiver([200]) as hook:
        kept = webhooks.add_endpoint(ctx, hook.url, ["email.complained"])
        gone = webhooks.add_endpoint(ctx, hook.url + "/gone", ["email.complained"])
        webhooks.remove_endpoint(ctx, gone.id)
        record(ctx, [BounceEvent(BounceKind.COMPLAINT, "dee@example.org", "arf", FIXED_NOW)])
        record(ctx, [BounceEvent(BounceKind.HARD, "eve@example.org", "dsn", FIXED_NOW)])
        webhooks.deliver_due(ctx)
    assert [r.path for r in hook.requests] == ["/hooks"]
    assert json.loads(hook.requests[0].body)["type"] == "email.complained"
    assert [e.id for e in webhooks.endpoints(ctx)] == [kept.id]
