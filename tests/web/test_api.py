"""REST API: keys, each resource, the error body, pagination, decisions through the ledger."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from clearpixel.accounts import api_keys
from clearpixel.consent import record_decision
from clearpixel.domain.ledger import Method
from clearpixel.reports.campaign import campaign_report
from clearpixel.store.ledger import entries_for_contact
from clearpixel.web.app import create_app
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import make_campaign

# what every decision posted through the API states: its basis and who made it
WHO = {"basis": "the contact's written request", "actor": "crm:alice", "decided_by": "operator"}


@pytest.fixture
def key(ctx):
    _, secret = api_keys.create_api_key(ctx, "tests")
    return secret


@pytest.fixture
def client(ctx, key):
    with TestClient(create_app(ctx)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {key}"
        yield test_client


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_no_key_is_401_with_the_error_body(ctx):
    with TestClient(create_app(ctx)) as anonymous:
        response = anonymous.get("/api/v1/lists")
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_and_revoked_keys_are_refused(ctx, client, key):
    assert client.get("/api/v1/lists").status_code == 200
    forged = client.get("/api/v1/lists", headers={"Authorization": "Bearer cpk_forged"})
    assert_error(forged, 401, "unauthorized")
    (stored,) = api_keys.api_keys(ctx)
    api_keys.revoke_api_key(ctx, stored.id)
    assert_error(client.get("/api/v1/lists"), 401, "unauthorized")


def test_api_keys_are_stored_only_as_hashes(ctx, key):
    with ctx.db.connect() as conn:
        dump = "\n".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM api_keys"))
    assert key not in dump
    assert key[len(api_keys.API_KEY_PREFIX) + 6 :] not in dump


def test_lists_create_read_and_conflict(client):
    created = client.post("/api/v1/lists", json={"name": "newsletter"})
    assert created.status_code == 201
    list_id = created.json()["id"]
    assert client.get(f"/api/v1/lists/{list_id}").json()["name"] == "newsletter"
    assert_error(client.post("/api/v1/lists", json={"name": "newsletter"}), 409, "conflict")
    assert_error(client.get("/api/v1/lists/999999"), 404, "not_found")
    assert_error(client.post("/api/v1/lists", json={}), 422, "validation_error")


def test_contact_create_read_update_never_sets_flags(ctx, client):
    list_id = make_list(ctx)
    created = client.post(
        f"/api/v1/lists/{list_id}/contacts",
        json={"email": "Ada@Example.ORG", "attributes": {"locale": "fr", "plan": "pro"}},
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["privacy_flags"] is None
    assert contact["email"] == "ada@example.org"
    patched = client.patch(
        f"/api/v1/contacts/{contact['id']}", json={"attributes": {"plan": None, "city": "Lyon"}}
    )
    assert patched.json()["attributes"] == {"locale": "fr", "city": "Lyon"}
    assert patched.json()["privacy_flags"] is None
    refused = client.patch(
        f"/api/v1/contacts/{contact['id']}", json={"attributes": {"privacy_flags": 1}}
    )
    assert_error(refused, 400, "invalid")
    assert client.get(f"/api/v1/contacts/{contact['id']}").json()["privacy_flags"] is None
    assert_error(
        client.post(f"/api/v1/lists/{list_id}/contacts", json={"email": "ada@example.org"}),
        409,
        "conflict",
    )
    assert_error(
        client.post(f"/api/v1/lists/{list_id}/contacts", json={"email": "not an address"}),
        400,
        "invalid",
    )


def test_contacts_pages_follow_the_cursor_and_search(ctx, client):
    list_id = make_list(ctx)
    ids = make_contacts(ctx, list_id, [None] * 7)
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/api/v1/lists/{list_id}/contacts", params=params).json()
        seen += [c["id"] for c in page["items"]]
        assert page["total"] == 7
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    found = client.get(f"/api/v1/lists/{list_id}/contacts", params={"search": "PERSON3@"}).json()
    assert [c["email"] for c in found["items"]] == ["person3@example.org"]
    assert_error(
        client.get(f"/api/v1/lists/{list_id}/contacts", params={"cursor": "abc"}), 400, "invalid"
    )
    assert_error(
        client.get(f"/api/v1/lists/{list_id}/contacts", params={"limit": 0}),
        422,
        "validation_error",
    )


def test_decision_through_the_api_writes_a_ledger_entry_with_method_api(ctx, client):
    list_id = make_list(ctx)
    (cid,) = make_contacts(ctx, list_id, [None])
    response = client.post(
        f"/api/v1/contacts/{cid}/decisions",
        json={
            "grant": ["open_tracking", "profiling"],
            "evidence": {"source": "crm form 12"},
            **WHO,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["contact"]["privacy_flags"] == 5
    assert body["contact"]["purposes"] == ["open_tracking", "profiling"]
    with ctx.db.connect() as conn:
        (entry,) = entries_for_contact(conn, cid)
    assert entry.method == Method.API
    assert entry.actor.startswith("api-key:")
    assert entry.evidence["source"] == "crm form 12"
    assert entry.flags_before is None and entry.flags_after == 5

    withdrawn = client.post(
        f"/api/v1/contacts/{cid}/decisions",
        json={"revoke": ["open_tracking"], "evidence": {"source": "phone call"}, **WHO},
    ).json()
    assert withdrawn["withdrawn"] is True
    assert withdrawn["contact"]["privacy_flags"] == 4
    history = client.get(f"/api/v1/contacts/{cid}/history").json()
    assert [e["method"] for e in history] == ["api", "api"]
    assert history[1]["revoked"] == ["open_tracking"]


def test_decisions_need_evidence_and_known_purposes(ctx, client):
    list_id = make_list(ctx)
    (cid,) = make_contacts(ctx, list_id, [None])
    url = f"/api/v1/contacts/{cid}/decisions"
    assert_error(client.post(url, json={"grant": ["open_tracking"]}), 422, "validation_error")
    assert_error(
        client.post(url, json={"grant": ["open_tracking"], "evidence": {"s": "x"}}),
        422,
        "validation_error",
    )  # no basis, actor or decided_by
    assert_error(
        client.post(url, json={"grant": ["telepathy"], "evidence": {"s": "x"}, **WHO}),
        400,
        "invalid",
    )
    assert_error(client.post(url, json={"evidence": {"s": "x"}, **WHO}), 400, "invalid")
    assert_error(
        client.post(
            "/api/v1/contacts/424242/decisions",
            json={"grant": ["open_tracking"], "evidence": {"s": "x"}, **WHO},
        ),
        404,
        "not_found",
    )
    assert client.get(f"/api/v1/contacts/{cid}").json()["privacy_flags"] is None


def test_ledger_export_pages_through_the_whole_chain(ctx, client):
    list_id = make_list(ctx)
    ids = make_contacts(ctx, list_id, [1, 3, 0, 7, 2])
    record_decision(
        ctx.db, ids[0], revoked=1, method=Method.ADMIN, now=ctx.now(), cooldown=ctx.cooldown
    )
    seqs, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/ledger", params=params).json()
        seqs += [e["seq"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seqs == list(range(1, 7))
    first, second = client.get("/api/v1/ledger", params={"limit": 2}).json()["items"]
    assert second["prev_hash"] == first["hash"]


def test_openapi_document_lists_the_resources(client):
    doc = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/lists", "/api/v1/contacts/{contact_id}/decisions", "/api/v1/ledger"):
        assert path in doc["paths"]


def test_csv_import_then_bulk_grant_with_a_basis(ctx, client):
    list_id = client.post("/api/v1/lists", json={"name": "imported"}).json()["id"]
    csv_text = "email,privacy_flags,locale\nann@example.org,1,fr\nbob@example.org,,en\n"
    refused = client.post(
        f"/api/v1/lists/{list_id}/contacts/import",
        files={"file": ("people.csv", csv_text, "text/csv")},
    )
    assert_error(refused, 400, "invalid")
    assert "basis" in refused.json()["error"]["message"]
    imported = client.post(
        f"/api/v1/lists/{list_id}/contacts/import",
        files={"file": ("people.csv", csv_text, "text/csv")},
        data={"basis": "paper forms of 2026-10"},
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == 2
    assert imported.json()["flags_changed"] == 1

    bulk = client.post(
        f"/api/v1/lists/{list_id}/bulk",
        json={"action": "grant", "purpose": "personalisation", "basis": "contract art. 6(1)(b)"},
    )
    assert bulk.status_code == 200, bulk.text
    assert bulk.json()["changed"] == 2
    assert_error(
        client.post(
            f"/api/v1/lists/{list_id}/bulk",
            json={"action": "grant", "purpose": "personalisation", "basis": "   "},
        ),
        422,
        "validation_error",
    )
    people = client.get(f"/api/v1/lists/{list_id}/contacts").json()["items"]
    assert {p["email"]: p["privacy_flags"] for p in people} == {
        "ann@example.org": 3,
        "bob@example.org": 2,
    }
    verify = client.get("/api/v1/ledger/verify").json()
    assert verify == {"ok": True, "entries": 3, "fault_seq": None, "problem": None}
    assert client.get("/api/v1/ledger/flags-check").json()["ok"] is True


def test_every_route_needs_a_key(ctx):
    with TestClient(create_app(ctx)) as anonymous:
        doc = anonymous.get("/api/v1/openapi.json").json()
        for path, methods in doc["paths"].items():
            for method in methods:
                url = path.replace("{list_id}", "1").replace("{contact_id}", "1")
                response = anonymous.request(method.upper(), url)
                assert response.status_code == 401, (method, path)


NEWS = '<p>Hello {{ first_name }} <a href="https://shop.example.org/sale">sale</a></p>'


def test_campaign_create_preview_send_and_report(ctx, client):
    list_id = make_list(ctx)
    make_contacts(ctx, list_id, [None, 1, 3], first_name="Ada")
    created = client.post(
        "/api/v1/campaigns",
        json={"list_id": list_id, "kind": "marketing", "subject": "News", "html": NEWS},
    )
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["status"] == "draft"
    preview = client.post(
        f"/api/v1/campaigns/{campaign['id']}/preview", json={"email": "person1@example.org"}
    )
    assert preview.status_code == 200, preview.text
    assert "List-Unsubscribe" in preview.json()["mime"]
    sent = client.post(f"/api/v1/campaigns/{campaign['id']}/send")
    assert sent.status_code == 200, sent.text
    assert sent.json()["sent"] == 3
    again = client.post(f"/api/v1/campaigns/{campaign['id']}/send").json()
    assert again["sent"] == 0
    report = client.get(f"/api/v1/campaigns/{campaign['id']}/report").json()
    assert report["sent"]["value"] == 3
    assert {(s["mode"], s["n"]) for s in report["sent_by"]} == {("anonymous", 1), ("personal", 2)}
    listed = client.get("/api/v1/campaigns").json()["items"]
    assert [c["id"] for c in listed] == [campaign["id"]]


def test_a_campaign_id_in_a_path_never_finds_a_campaign_by_that_name(ctx, client):
    list_id = make_list(ctx)
    named, _ = make_campaign(ctx, list_id, name="999")
    assert client.get(f"/api/v1/campaigns/{named}").json()["name"] == "999"
    assert_error(client.get("/api/v1/campaigns/999"), 404, "not_found")
    assert "no campaign with id 999" in client.get("/api/v1/campaigns/999/report").text
    assert campaign_report(ctx, "999").campaign_id == named  # typed text may be a name


def test_campaign_with_a_personal_value_in_an_image_url_is_refused(ctx, client):
    list_id = make_list(ctx)
    leaking = '<img src="https://cdn.example.org/p.gif?u={{ email }}">'
    response = client.post(
        "/api/v1/campaigns",
        json={"list_id": list_id, "kind": "marketing", "subject": "News", "html": leaking},
    )
    assert_error(response, 400, "invalid")
    assert "img" in response.json()["error"]["message"]
    assert_error(client.get("/api/v1/campaigns/77/report"), 404, "not_found")


def test_consent_report_counts_without_naming_anyone(ctx, client):
    list_id = make_list(ctx)
    make_contacts(ctx, list_id, [None, 0, 1, 3])
    report = client.get("/api/v1/reports/consent").json()
    (item,) = report["lists"]
    assert item["purposes"]["open_tracking"] == {"never_asked": 1, "refused": 1, "granted": 2}
    assert "@" not in str(report)
