"""Every admin page and REST route, tried over real HTTP by each role, signed out, with a
forged, expired, ended or disabled user's session, and with API keys of each role, scope
and list limit: what a role must not reach answers 403 (pages, API) or sends the browser to
sign in, before anything runs."""

from __future__ import annotations

from datetime import timedelta

import httpx2
import pytest

from clearpixel.accounts import sessions
from clearpixel.accounts.roles import Role, allows
from clearpixel.web.permissions import NEEDS
from tests.security.conftest import SECRET_ATTRIBUTE, Browser, signed_in

MISSING = {
    "campaign_id": "999",
    "list_id": "999",
    "contact_id": "999",
    "token": "nosuchupload",
    "endpoint_id": "999",
    "key_id": "999",
    "user_id": "999",
    "email": "nobody@example.org",
}
OWN_SESSION = {"/admin/logout", "/admin/sessions/end", "/admin/password"}
ADMIN_ROUTES = sorted((m, p) for m, p in NEEDS if p.startswith("/admin") and p not in OWN_SESSION)
API_ROUTES = sorted((m, p) for m, p in NEEDS if p.startswith("/api"))


def _try(browser: Browser, method: str, path: str) -> httpx2.Response:
    url = path.format(**MISSING)
    if method == "GET":
        return browser.get(url)
    return browser.post(url)


@pytest.mark.parametrize("role", [Role.EDITOR, Role.AUDITOR])
def test_each_admin_route_refuses_a_role_without_its_permission(installation, role):
    browser = signed_in(
        installation, {"editor": "ed@example.org", "auditor": "aud@example.org"}[role]
    )
    wrong = []
    for method, path in ADMIN_ROUTES:
        answer = _try(browser, method, path)
        refused = answer.status_code == 403
        if refused == allows(role, NEEDS[(method, path)]):
            wrong.append((method, path, answer.status_code))
    assert wrong == []


def test_signed_out_every_admin_route_goes_to_sign_in_and_every_api_route_wants_a_key(
    installation,
):
    http = httpx2.Client(base_url=installation.url)
    for method, path in ADMIN_ROUTES:
        answer = http.request(method, path.format(**MISSING), data={"csrf": "x~y"})
        assert answer.status_code == 303, (method, path)
        assert answer.headers["location"].startswith("/admin/login?next=")
    for method, path in API_ROUTES:
        answer = http.request(method, path.format(**MISSING), json={})
        assert answer.status_code == 401, (method, path)


def test_forged_ended_expired_and_disabled_sessions_are_signed_out(ctx, installation):
    admin = signed_in(installation, "admin")
    editor = signed_in(installation, "ed@example.org")
    cookie = editor.http.cookies["cp_admin"]
    token, mac = cookie.split(".")

    def with_cookie(value: str) -> int:
        other = Browser(installation.url)
        other.http.cookies.set("cp_admin", value, domain="127.0.0.1", path="/admin")
        return other.get("/admin/lists").status_code

    assert with_cookie(cookie) == 200
    assert with_cookie(f"{token}.{mac[:-2]}AA") == 303  # MAC altered
    assert with_cookie(f"{token[:-2]}AA.{mac}") == 303  # token altered
    other_token = admin.http.cookies["cp_admin"].split(".")[0]
    assert with_cookie(f"{other_token}.{mac}") == 303  # another user's token, this MAC

    # a disabled user's open session ends at once; enabling them again does not revive it
    gone = signed_in(installation, "gone@example.org")
    assert gone.get("/admin/import").status_code == 200
    users_page = admin.get("/admin/users").text
    assert "gone@example.org" in users_page
    gone_id = installation.users["gone@example.org"]
    assert admin.post(f"/admin/users/{gone_id}", {"action": "disable"}).status_code == 200
    assert gone.get("/admin/import").status_code == 303
    assert gone.sign_in("gone@example.org").status_code == 401
    assert admin.post(f"/admin/users/{gone_id}", {"action": "enable"}).status_code == 200
    assert gone.get("/admin/import").status_code == 303

    # a demoted user loses the page on their very next request
    ed_id = installation.users["ed@example.org"]
    assert (
        admin.post(f"/admin/users/{ed_id}", {"action": "role", "role": "auditor"}).status_code
        == 200
    )
    assert editor.get("/admin/import").status_code == 403

    # a session past its lifetime is over, whatever the cookie's own max-age says
    now = ctx.now()
    ctx.now = lambda: now + sessions.SESSION_LIFETIME + timedelta(minutes=1)
    assert admin.get("/admin/lists").status_code == 303


def test_an_auditor_never_sees_a_contact_attribute(installation):
    auditor = signed_in(installation, "aud@example.org")
    ids = {
        **MISSING,
        "list_id": str(installation.lists["news"]),
        "contact_id": str(installation.contacts["ann"]),
    }
    seen = []
    for method, path in ADMIN_ROUTES:
        if method == "GET" and allows(Role.AUDITOR, NEEDS[(method, path)]):
            answer = auditor.get(path.format(**ids))
            if SECRET_ATTRIBUTE in answer.text:
                seen.append(path)
    headers = {"Authorization": f"Bearer {installation.keys['auditor']}"}
    for method, path in API_ROUTES:
        if method == "GET" and allows(Role.AUDITOR, NEEDS[(method, path)]):
            answer = httpx2.get(installation.url + path.format(**ids), headers=headers)
            if SECRET_ATTRIBUTE in answer.text:
                seen.append(path)
    assert seen == []
    assert auditor.get(f"/admin/contacts/{ids['contact_id']}").status_code == 403


@pytest.mark.parametrize("role", ["admin", "editor", "auditor"])
def test_each_api_key_role_reaches_only_its_routes(installation, role):
    headers = {"Authorization": f"Bearer {installation.keys[role]}"}
    wrong = []
    for method, path in API_ROUTES:
        answer = httpx2.request(
            method, installation.url + path.format(**MISSING), json={}, headers=headers
        )
        if (answer.status_code == 403) == allows(role, NEEDS[(method, path)]):
            wrong.append((method, path, answer.status_code))
    assert wrong == []


def test_a_list_limited_key_reaches_nothing_of_another_list(installation):
    other, news = installation.lists["other"], installation.lists["news"]
    olga, ann = installation.contacts["olga"], installation.contacts["ann"]
    reached = []
    for key in ("other-only", "signup"):
        headers = {"Authorization": f"Bearer {installation.keys[key]}"}
        for method, path in API_ROUTES:
            url = path.format(**{**MISSING, "list_id": news, "contact_id": ann})
            answer = httpx2.request(method, installation.url + url, json={}, headers=headers)
            if answer.status_code != 403:
                reached.append((key, method, url, answer.status_code))
    assert reached == []
    headers = {"Authorization": f"Bearer {installation.keys['other-only']}"}
    own = httpx2.get(f"{installation.url}/api/v1/contacts/{olga}", headers=headers)
    assert own.status_code == 200 and own.json()["email"] == "olga@example.org"
    moved = httpx2.patch(
        f"{installation.url}/api/v1/contacts/{olga}",
        json={"attributes": {"x": "1"}, "list_id": news},
        headers=headers,
    )
    assert moved.status_code in (200, 422)
    assert (
        httpx2.get(f"{installation.url}/api/v1/lists/{other}", headers=headers).json()["contacts"]
        == 1
    )
