"""Sign-in, sessions and CSRF attacked over real HTTP: forms without this session's token,
login CSRF, session fixation, signing out another session, the sign-in throttle (by account
and by network, and not reset by signing in to one's own account), and no user enumeration
by message."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx2
import pytest

from clearpixel.accounts import sessions
from clearpixel.web.permissions import NEEDS
from tests.security.conftest import PASSWORDS, Browser, csrf_of, signed_in

POST_ROUTES = sorted(p for m, p in NEEDS if m == "POST" and p.startswith("/admin"))
IDS = {
    "campaign_id": "999",
    "list_id": "999",
    "contact_id": "999",
    "token": "nosuchupload",
    "endpoint_id": "999",
    "key_id": "999",
    "user_id": "999",
}


def test_every_admin_form_refuses_a_missing_or_foreign_csrf_token(installation):
    admin = signed_in(installation, "admin")
    editor = signed_in(installation, "ed@example.org")
    foreign = editor.csrf()
    for path in POST_ROUTES:
        url = path.format(**IDS)
        for data in ({}, {"csrf": foreign}, {"csrf": "1~" + "0" * 32}):
            answer = admin.http.post(url, data={"name": "x", **data})
            assert answer.status_code == 400, (path, data, answer.status_code)
            assert "expired" in answer.text
        as_json = admin.http.post(url, json={"csrf": admin.csrf()})
        assert as_json.status_code == 400, path  # a token only counts in a form body
    # the admin is still signed in (logout without a token did nothing), nothing was made
    lists = admin.get("/admin/lists")
    assert lists.status_code == 200 and ">x<" not in lists.text


def test_a_state_changing_route_refuses_get(installation):
    admin = signed_in(installation, "admin")
    gets = {p for m, p in NEEDS if m == "GET"}
    for path in POST_ROUTES:
        if path not in gets:
            # 405, or 422 where the path reads as a page's (`/campaigns/check` as an id)
            assert admin.get(path.format(**IDS)).status_code in (405, 422), path
    assert admin.get("/admin/lists").status_code == 200  # (still signed in)


def test_login_csrf_and_session_fixation_are_refused(installation):
    attacker = Browser(installation.url)
    planted = attacker.http.get("/admin/login")
    token = csrf_of(planted.text)
    victim = Browser(installation.url)
    # the attacker's token without the attacker's pre-session cookie: refused
    answer = victim.http.post(
        "/admin/login",
        data={"username": "admin", "password": PASSWORDS["admin"], "csrf": token},
    )
    assert answer.status_code == 400 and "cp_admin" not in answer.headers.get("set-cookie", "")
    # a session cookie chosen before sign-in is never the one handed out after it
    victim.http.cookies.set("cp_admin", "chosen.by-attacker", domain="127.0.0.1", path="/admin")
    assert victim.sign_in("admin").status_code == 303
    assert victim.http.cookies["cp_admin"].split(".")[0] != "chosen"
    assert victim.get("/admin").status_code == 200


def test_signing_out_another_session_ends_it_and_only_ones_own(installation):
    laptop = signed_in(installation, "ed@example.org")
    phone = signed_in(installation, "ed@example.org")
    auditor = signed_in(installation, "aud@example.org")
    page = laptop.get("/admin/account").text
    refs = set(re.findall(r'name="session" value="([0-9a-f]{64})"', page))
    assert len(refs) == 2
    auditor_ref = sessions.token_hash(auditor.http.cookies["cp_admin"].split(".")[0])
    assert laptop.post("/admin/sessions/end", {"session": auditor_ref}).status_code == 404
    assert auditor.get("/admin").status_code == 200
    phone_ref = sessions.token_hash(phone.http.cookies["cp_admin"].split(".")[0])
    assert laptop.post("/admin/sessions/end", {"session": phone_ref}).status_code == 303
    assert phone.get("/admin").status_code == 303
    assert laptop.get("/admin").status_code == 200


def test_wrong_user_and_wrong_password_read_the_same(installation):
    texts = set()
    for username in ("admin", "nobody@example.org", "ed@example.org"):
        answer = Browser(installation.url, f"203.0.113.{len(texts) + 1}").sign_in(
            username, "not the password"
        )
        assert answer.status_code == 401
        page = re.sub(r'value="[^"]*"', "", answer.text)  # the fresh CSRF token, the name
        texts.add(page)
    assert len(texts) == 1


def test_signing_in_to_ones_own_account_does_not_reset_guessing_anothers(ctx, installation):
    """An editor guessing the admin's password used to start again from nothing after each
    sign-in of their own (a success wiped every failure of their address): three free
    guesses a second, for ever."""
    insider = Browser(installation.url, "198.51.100.77")
    for _ in range(sessions.FREE_FAILURES):
        assert insider.sign_in("admin", "guess").status_code == 401
    start = ctx.now()
    ctx.now = lambda: start + timedelta(seconds=2)  # the 1 s wait is over
    assert insider.sign_in("ed@example.org").status_code == 303
    assert insider.sign_in("admin", "guess").status_code == 401
    held = insider.sign_in("admin", "guess")
    assert held.status_code == 429 and "try again in 2 seconds" in held.text


@pytest.mark.parametrize("spread", ["2001:db8:5:7::{}", "2001:db8:5:7:{}::1"])
def test_one_ipv6_network_is_throttled_as_one_address(installation, spread):
    """A subscriber holds a whole /64: each of its addresses used to get its own free
    failures."""
    codes = [
        Browser(installation.url, spread.format(i + 1)).sign_in("admin", "guess").status_code
        for i in range(sessions.FREE_FAILURES + 2)
    ]
    assert codes == [401] * sessions.FREE_FAILURES + [429, 429]
    elsewhere = Browser(installation.url, "2001:db8:5:8::1")
    assert elsewhere.sign_in("admin").status_code == 303  # another network: not held back


def test_the_owner_signs_in_while_the_account_is_under_attack(installation):
    for i in range(6):
        attacker = Browser(installation.url, f"192.0.2.{i + 1}")
        for _ in range(sessions.FREE_FAILURES + 1):
            attacker.sign_in("admin", "guess")
    owner = Browser(installation.url, "198.51.100.200")
    assert owner.sign_in("admin").status_code == 303
    assert isinstance(owner.http, httpx2.Client)


def test_a_password_change_or_reset_ends_the_other_sessions(installation):
    laptop = signed_in(installation, "ed@example.org")
    phone = signed_in(installation, "ed@example.org", ip="198.51.100.11")
    wrong = laptop.post(
        "/admin/password",
        {"current_password": "guess", "new_password": "x" * 12, "confirm_password": "x" * 12},
    )
    assert wrong.status_code == 400 and phone.get("/admin").status_code == 200
    changed = laptop.post(
        "/admin/password",
        {
            "current_password": PASSWORDS["ed@example.org"],
            "new_password": "a new editor passphrase",
            "confirm_password": "a new editor passphrase",
        },
    )
    assert changed.status_code == 200 and "1 other session signed out" in changed.text
    assert phone.get("/admin").status_code == 303
    assert laptop.get("/admin").status_code == 200
    # an admin's reset ends every session of that user; the old password stops working
    admin = signed_in(installation, "admin")
    user = installation.users["ed@example.org"]
    reset = admin.post(f"/admin/users/{user}", {"action": "reset", "password": "reset by admin"})
    assert reset.status_code == 200
    assert laptop.get("/admin").status_code == 303
    again = Browser(installation.url, "198.51.100.12")
    assert again.sign_in("ed@example.org", "a new editor passphrase").status_code == 401
    assert again.sign_in("ed@example.org", "reset by admin").status_code == 303


def test_a_revoked_api_key_is_refused_at_once(installation):
    admin = signed_in(installation, "admin")
    headers = {"Authorization": f"Bearer {installation.keys['editor']}"}
    url = f"{installation.url}/api/v1/lists"
    assert httpx2.get(url, headers=headers).status_code == 200
    page = admin.get("/admin/apikeys").text
    key_id = re.findall(r'action="/admin/apikeys/(\d+)/revoke"', page)[1]  # the editor's
    assert admin.post(f"/admin/apikeys/{key_id}/revoke").status_code == 200
    assert httpx2.get(url, headers=headers).status_code == 401


def test_session_cookies_are_httponly_lax_admin_only_and_secure_behind_tls(installation):
    plain = Browser(installation.url, "198.51.100.30")
    answer = plain.sign_in("admin")
    cookie = answer.headers["set-cookie"].lower()
    assert "cp_admin=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "path=/admin" in cookie and "secure" not in cookie  # plain http on loopback
    behind_tls = Browser(installation.url, "198.51.100.31")
    behind_tls.http.headers["X-Forwarded-Proto"] = "https"
    answer = behind_tls.sign_in("admin")
    assert "secure" in answer.headers["set-cookie"].lower()
