"""The REST API as a website holding a key, and as an operator (R18, R19): a key limited to
signups can only mail an address a confirmation link; a key limited to a list touches no
other; a decision states its basis and actor, and an operator's never grants what the contact
refused themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clearpixel.accounts import api_keys
from clearpixel.consent import record_decision
from clearpixel.domain.ledger import Method
from clearpixel.web.app import create_app
from tests.consent.consent_helpers import entries, state
from tests.helpers import make_contacts, make_list

DECISION = {
    "grant": ["open_tracking"],
    "evidence": {"s": "x"},
    "basis": "b",
    "actor": "a",
    "decided_by": "contact",
}


def client_for(ctx, secret: str) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(ctx))
    client.headers["Authorization"] = f"Bearer {secret}"
    return client


def system_mails(ctx) -> list[str]:  # type: ignore[no-untyped-def]
    folder = Path(ctx.settings.data_dir) / "outbox" / "system"
    return [p.read_text() for p in folder.glob("*.eml")]


def test_a_signup_key_only_starts_confirmations_on_its_own_list(ctx, cli):
    newsletter = make_list(ctx)
    other = make_list(ctx, "other")
    (known,) = make_contacts(ctx, newsletter, [0])
    out = cli("apikeys", "create", "--name", "site", "--list", "newsletter", "--scope", "signup")
    secret = out.output.strip().splitlines()[-1]
    before = state(ctx, known)
    body = {"email": "person0@example.org", "purposes": ["open_tracking"], "locale": "fr"}
    with client_for(ctx, secret) as site:
        answer = site.post(f"/api/v1/lists/{newsletter}/signups", json=body)
        assert answer.status_code == 202 and answer.json() == {"status": "confirmation_sent"}
        fresh = site.post(f"/api/v1/lists/{newsletter}/signups", json={"email": "x@example.org"})
        assert fresh.json() == answer.json()  # the same answer for a known address
        refused = [
            site.post(f"/api/v1/lists/{other}/signups", json=body),
            site.get("/api/v1/lists"),
            site.get(f"/api/v1/contacts/{known}"),
            site.post(f"/api/v1/contacts/{known}/decisions", json=DECISION),
            site.post(
                f"/api/v1/lists/{newsletter}/bulk",
                json={"action": "grant", "purpose": "open_tracking", "basis": "b"},
            ),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused)
    assert state(ctx, known) == before
    mails = system_mails(ctx)
    assert len(mails) == 2
    assert any("To: person0@example.org" in m and "/subscribe/confirm/" in m for m in mails)


def test_a_key_limited_to_a_list_cannot_read_or_change_another(ctx):
    newsletter = make_list(ctx)
    other = make_list(ctx, "other")
    (mine,) = make_contacts(ctx, newsletter, [None])
    (theirs,) = make_contacts(ctx, other, [None])
    _, secret = api_keys.create_api_key(ctx, "crm", list_name="newsletter")
    with client_for(ctx, secret) as crm:
        assert crm.get(f"/api/v1/contacts/{mine}").status_code == 200
        assert crm.get(f"/api/v1/contacts/{theirs}").status_code == 403
        assert crm.get(f"/api/v1/lists/{other}/contacts").status_code == 403
        assert crm.get("/api/v1/ledger").status_code == 403


@pytest.mark.parametrize("own", [Method.CONSENT_PAGE, Method.PREFERENCE_PAGE])
def test_an_operators_api_decision_never_grants_what_the_contact_refused(ctx, own):
    (cid,) = make_contacts(ctx, make_list(ctx), [None])
    record_decision(ctx.db, cid, revoked=1, method=own, now=ctx.now(), cooldown=ctx.cooldown)
    _, secret = api_keys.create_api_key(ctx, "crm")
    decision = {
        "grant": ["open_tracking", "profiling"],
        "evidence": {"source": "crm"},
        "basis": "legitimate interest, memo 7",
        "actor": "alice",
    }
    with client_for(ctx, secret) as crm:
        url = f"/api/v1/contacts/{cid}/decisions"
        operator = crm.post(url, json={**decision, "decided_by": "operator"}).json()
        assert operator["skipped_refused_by_contact"] == ["open_tracking"]
        assert operator["contact"]["privacy_flags"] == 4
        contact = crm.post(url, json={**decision, "decided_by": "contact"}).json()
        assert contact["skipped_refused_by_contact"] == []
        assert contact["contact"]["privacy_flags"] == 5
    logged = entries(ctx, cid)
    assert [e.method for e in logged[1:]] == ["api", "api_contact"]
    assert logged[1].actor == "api-key:1:alice"
    assert logged[1].evidence["basis"] == "legitimate interest, memo 7"
    assert logged[1].evidence["decided_by"] == "operator"
