"""Users with roles over HTTP: sign-in by email, one guard for every admin page and API
route (403 page and API 403 by role), sessions that can be signed out one by one, disabled
users, the ledger's actor naming the user, and `clearpixel users`."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from clearpixel.accounts import api_keys, users
from clearpixel.store.ledger import entries_for_contact
from clearpixel.web import admin
from clearpixel.web.app import create_app
from clearpixel.web.permissions import NEEDS
from tests.helpers import make_contacts, make_list
from tests.web import admin_session
from tests.web.admin_session import csrf_of

PASSWORD = "a long enough passphrase"
OPEN_PATHS = {"/admin/login", "/admin/static/{name:path}"}


def signed_in(ctx, email: str) -> TestClient:
    return admin_session.signed_in(ctx, email, PASSWORD)


@pytest.fixture
def team(ctx):
    list_id = make_list(ctx)
    (contact,) = make_contacts(ctx, list_id, [None])
    for email, role in (
        ("ada@example.org", "admin"),
        ("eddie@example.org", "editor"),
        ("audrey@example.org", "auditor"),
    ):
        users.create_user(ctx, email, role=role, password=PASSWORD)
    return {"list": list_id, "contact": contact}


def app_routes(ctx) -> set[tuple[str, str]]:
    """Every admin route (from the admin's routers) and every REST route (from the served
    OpenAPI document), as (method, path)."""
    found = set()
    for part in admin.ROUTERS:
        for route in part.routes:
            assert isinstance(route, APIRoute)
            if route.path not in OPEN_PATHS:
                found |= {(method, route.path) for method in route.methods}
    with TestClient(create_app(ctx)) as client:
        schema = client.get("/api/v1/openapi.json").json()
    for path, operations in schema["paths"].items():
        found |= {(method.upper(), path) for method in operations}
    return found


def test_every_admin_page_and_api_route_is_in_the_permission_table(ctx):
    routes = app_routes(ctx)
    assert len(routes) > 40
    assert routes - set(NEEDS) == set()  # a route nobody declared is refused to everyone
    assert set(NEEDS) - routes == set()  # and the table names no route that is gone


def test_auditor_gets_the_403_page_for_attributes_users_and_lists(ctx, team):
    auditor = signed_in(ctx, "audrey@example.org")
    for path in (
        f"/admin/contacts/{team['contact']}",
        f"/admin/lists/{team['list']}",
        "/admin/users",
    ):
        page = auditor.get(path)
        assert page.status_code == 403, path
        assert "does not allow" in page.text and 'id="forbidden"' in page.text
        assert "someone@" not in page.text
    for path in ("/admin", "/admin/consent", f"/admin/contacts/{team['contact']}/proof"):
        assert auditor.get(path).status_code == 200, path
    forged = auditor.post(
        f"/admin/contacts/{team['contact']}/decision",
        data={"csrf": csrf_of(auditor.get("/admin/account").text), "grant": "open_tracking"},
    )
    assert forged.status_code == 403
    with ctx.db.connect() as conn:
        assert entries_for_contact(conn, team["contact"]) == []


def test_editor_reaches_contacts_but_not_users(ctx, team):
    editor = signed_in(ctx, "eddie@example.org")
    assert editor.get(f"/admin/contacts/{team['contact']}").status_code == 200
    assert editor.get("/admin/users").status_code == 403
    admin = signed_in(ctx, "ada@example.org")
    assert admin.get("/admin/users").status_code == 200


def test_the_ledger_actor_names_the_user_who_recorded_a_choice(ctx, team):
    editor = signed_in(ctx, "eddie@example.org")
    page = editor.get(f"/admin/contacts/{team['contact']}")
    answer = editor.post(
        f"/admin/contacts/{team['contact']}/decision",
        data={"csrf": csrf_of(page.text), "grant": "open_tracking", "evidence": "letter"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    with ctx.db.connect() as conn:
        (entry,) = entries_for_contact(conn, team["contact"])
    assert entry.actor == "admin:eddie@example.org"


def test_api_keys_answer_403_by_role(ctx, team):
    _, auditor_key = api_keys.create_api_key(ctx, "dpo", role="auditor")
    _, editor_key = api_keys.create_api_key(ctx, "crm", role="editor")
    with TestClient(create_app(ctx)) as client:
        auditor = {"Authorization": f"Bearer {auditor_key}"}
        editor = {"Authorization": f"Bearer {editor_key}"}
        refused = client.get(f"/api/v1/contacts/{team['contact']}", headers=auditor)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert "someone" not in refused.text
        campaign = {"list_id": team["list"], "subject": "x", "html": "<p>x</p>"}
        assert client.post("/api/v1/campaigns", json=campaign, headers=auditor).status_code == 403
        assert client.get("/api/v1/ledger", headers=auditor).status_code == 200
        assert client.get(f"/api/v1/contacts/{team['contact']}", headers=editor).status_code == 200
        assert client.get("/api/v1/webhooks", headers=editor).status_code == 403
        # routes of the routers included under /api/v1 are found in the table too
        bulk = {"action": "grant", "purpose": "open_tracking", "basis": "crm sync"}
        path = f"/api/v1/lists/{team['list']}/bulk"
        assert client.post(path, json=bulk, headers=editor).status_code == 200
        assert client.post(path, json=bulk, headers=auditor).status_code == 403
        assert client.get(f"/api/v1/campaigns/{999}/report", headers=auditor).status_code == 404


def test_each_session_can_be_signed_out_from_another(ctx, team):
    laptop = signed_in(ctx, "eddie@example.org")
    phone = signed_in(ctx, "eddie@example.org")
    account = laptop.get("/admin/account").text
    refs = re.findall(r'name="session" value="([0-9a-f]{64})"', account)
    assert len(refs) == 2
    rows = account.split("<tr>")
    other = next(ref for ref in refs for row in rows if ref in row and "(this browser)" not in row)
    answer = laptop.post(
        "/admin/sessions/end",
        data={"csrf": csrf_of(account), "session": other},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert phone.get("/admin", follow_redirects=False).status_code == 303  # to sign-in
    assert laptop.get("/admin").status_code == 200


def test_a_disabled_user_is_signed_out_and_cannot_sign_in(ctx, team):
    editor = signed_in(ctx, "eddie@example.org")
    users.disable_user(ctx, "eddie@example.org")
    assert editor.get("/admin", follow_redirects=False).status_code == 303
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as client:
        page = client.get("/admin/login")
        answer = client.post(
            "/admin/login",
            data={
                "username": "eddie@example.org",
                "password": PASSWORD,
                "csrf": csrf_of(page.text),
            },
            follow_redirects=False,
        )
    assert answer.status_code == 401 and "wrong username or password" in answer.text


def test_the_last_admin_cannot_be_disabled_or_demoted(ctx, team):
    with pytest.raises(Exception, match="last enabled admin"):
        users.set_user_role(ctx, "ada@example.org", "editor")
    with pytest.raises(Exception, match="last enabled admin"):
        users.disable_user(ctx, "ada@example.org")
    assert users.find_user(ctx, "ada@example.org").role == "admin"


def test_admin_creates_a_user_from_the_users_page(ctx, team):
    admin = signed_in(ctx, "ada@example.org")
    page = admin.get("/admin/users")
    bad = admin.post(
        "/admin/users",
        data={
            "csrf": csrf_of(page.text),
            "email": "not an address",
            "role": "editor",
            "password": PASSWORD,
        },
    )
    assert bad.status_code == 400 and "is not an email address" in bad.text
    made = admin.post(
        "/admin/users",
        data={
            "csrf": csrf_of(page.text),
            "email": "Nina@Example.org",
            "role": "auditor",
            "password": PASSWORD,
        },
    )
    assert made.status_code == 200 and "nina@example.org created" in made.text
    assert signed_in(ctx, "nina@example.org").get("/admin/users").status_code == 403


def test_users_cli_creates_lists_and_disables(cli, ctx):
    cli("users", "create", "lea@example.org", "--role", "editor", "--password", PASSWORD)
    bad = cli(
        "users", "create", "x@example.org", "--role", "owner", "--password", PASSWORD, ok=False
    )
    assert bad.exit_code == 2 and "unknown role 'owner'" in bad.output
    listed = json.loads(cli("users", "ls", "--json").stdout)
    assert [(u["email"], u["role"], u["disabled_at"]) for u in listed] == [
        ("lea@example.org", "editor", None)
    ]
    cli("users", "disable", "lea@example.org")
    assert json.loads(cli("users", "ls", "--json").stdout)[0]["disabled_at"] is not None
