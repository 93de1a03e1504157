"""Admin sign-in, session cookie, CSRF, rate limit and page access over HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from clearpixel.accounts import sessions, users
from clearpixel.config import Settings
from clearpixel.consent import record_decision
from clearpixel.domain.ledger import Method
from clearpixel.store.ledger import entries_for_contact
from clearpixel.web.app import create_app
from tests.helpers import make_contacts, make_list
from tests.web import admin_session
from tests.web.admin_session import csrf_of

PASSWORD = "correct horse battery staple"


@pytest.fixture
def client(ctx):
    users.ensure_admin(ctx, password=PASSWORD)
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as test_client:
        yield test_client


def sign_in(client, password=PASSWORD, username="admin"):
    """Sign in as the admin account the installation starts with."""
    return admin_session.sign_in(client, username, password)


def test_pages_need_a_session(client):
    for path in ("/admin", "/admin/lists", "/admin/consent", "/admin/settings", "/admin/notices"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/admin/login?next=")


def test_sign_in_sets_an_httponly_samesite_cookie(client):
    response = sign_in(client)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "cp_admin=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # served on 127.0.0.1, not at the https base URL
    assert client.get("/admin").status_code == 200


def test_cookie_is_secure_at_the_https_base_url(ctx):
    users.ensure_admin(ctx, password=PASSWORD)
    with TestClient(create_app(ctx), base_url=ctx.settings.base_url) as secure_client:
        response = sign_in(secure_client)
    assert "Secure" in response.headers["set-cookie"]


def test_wrong_password_is_refused_without_saying_which_part(client):
    response = sign_in(client, password="wrong password")
    assert response.status_code == 401
    assert "wrong username or password" in response.text
    assert "cp_admin=" not in response.headers.get("set-cookie", "")
    unknown = sign_in(client, username="root", password=PASSWORD)
    assert unknown.status_code == 401
    assert "wrong username or password" in unknown.text


def test_sign_in_without_csrf_is_refused(client):
    client.get("/admin/login")
    response = client.post(
        "/admin/login",
        data={"username": "admin", "password": PASSWORD, "csrf": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert "cp_admin=" not in response.headers.get("set-cookie", "")


def client_from(ctx, ip: str) -> TestClient:
    """A browser at another address (the app sees `ip` as the client)."""
    return TestClient(create_app(ctx), base_url="http://127.0.0.1", client=(ip, 40000))


def test_a_failing_address_waits_longer_and_longer(ctx, client):
    start = ctx.now()
    for _ in range(sessions.FREE_FAILURES):
        assert sign_in(client, password="guess").status_code == 401
    waits = []
    for _ in range(4):
        blocked = sign_in(client)  # even the right password waits its turn
        assert blocked.status_code == 429
        waits.append(int(re.search(r"try again in (\d+) second", blocked.text).group(1)))
        later = ctx.now() + timedelta(seconds=waits[-1])
        ctx.now = lambda later=later: later
        assert sign_in(client, password="guess").status_code == 401
    assert waits == [1, 2, 4, 8]
    # another account name from the same address waits as well
    assert sign_in(client, username="root", password="guess").status_code == 429
    later = start + sessions.LOGIN_WINDOW + timedelta(minutes=1)
    ctx.now = lambda: later
    assert sign_in(client).status_code == 303


def test_failures_from_anywhere_never_lock_the_owner_out(ctx, client):
    """Thousands of failures spread over addresses slow those addresses; the owner, at an
    address that did not fail, signs in at once (they used to be locked out for 15 minutes,
    renewable for ever)."""
    attackers = [client_from(ctx, f"203.0.113.{i}") for i in range(1, 6)]
    for attacker in attackers:
        with attacker:
            for _ in range(sessions.FREE_FAILURES + 3):
                assert sign_in(attacker, password="guess").status_code in (401, 429)
            assert sign_in(attacker).status_code == 429  # the right password, wrong place
    with client_from(ctx, "198.51.100.7") as owner:
        assert sign_in(owner).status_code == 303
        assert owner.get("/admin").status_code == 200
    # a new address that fails against the account under attack waits as the account's
    # failures demand, not only as its own one failure would
    with client_from(ctx, "192.0.2.1") as other:
        assert sign_in(other, password="guess").status_code == 401
        blocked = sign_in(other, password="guess")
        assert blocked.status_code == 429
        # 3 failures of the first attacker, then one per address (each waits after its
        # first): 8 against the account, 2**5 seconds
        assert "try again in 32 seconds" in blocked.text


def test_signing_out_ends_the_session_on_the_server(ctx, client):
    sign_in(client)
    cookie = client.cookies.get("cp_admin")
    home = client.get("/admin")
    client.post("/admin/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as replay:
        replay.cookies.set("cp_admin", cookie)
        response = replay.get("/admin", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login")


def test_a_password_change_ends_every_other_session(ctx, client):
    sign_in(client)
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as other:
        sign_in(other)
        assert other.get("/admin").status_code == 200
        settings = client.get("/admin/settings").text
        wrong = client.post(
            "/admin/password",
            data={
                "csrf": csrf_of(settings),
                "current_password": "not it",
                "new_password": "a new long password",
                "confirm_password": "a new long password",
            },
        )
        assert wrong.status_code == 400
        assert other.get("/admin", follow_redirects=False).status_code == 200
        changed = client.post(
            "/admin/password",
            data={
                "csrf": csrf_of(settings),
                "current_password": PASSWORD,
                "new_password": "a new long password",
                "confirm_password": "a new long password",
            },
        )
        assert changed.status_code == 200
        assert "1 other session signed out" in changed.text
        assert other.get("/admin", follow_redirects=False).status_code == 303
        assert client.get("/admin").status_code == 200  # the one that changed it stays
        assert sign_in(other).status_code == 401
        assert sign_in(other, password="a new long password").status_code == 303


def test_the_pre_session_cookie_keeps_secure_on_https(ctx):
    users.ensure_admin(ctx, password=PASSWORD)
    with TestClient(create_app(ctx), base_url=ctx.settings.base_url) as secure_client:
        page = secure_client.get("/admin/login")
        assert "Secure" in page.headers["set-cookie"]
        refused = secure_client.post(
            "/admin/login",
            data={"username": "admin", "password": "wrong", "csrf": csrf_of(page.text)},
        )
        assert refused.status_code == 401
        assert "cp_pre=" in refused.headers["set-cookie"]
        assert "Secure" in refused.headers["set-cookie"]


def test_forged_or_tampered_session_cookie_is_ignored(client):
    sign_in(client)
    value = client.cookies.get("cp_admin")
    payload, mac = value.split(".")
    client.cookies.clear()
    client.cookies.set("cp_admin", payload + "." + mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB"))
    assert client.get("/admin", follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set("cp_admin", value)
    assert client.get("/admin", follow_redirects=False).status_code == 200
    forged_payload = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    client.cookies.clear()
    client.cookies.set("cp_admin", forged_payload + "." + mac)
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_sign_out_needs_csrf_and_ends_the_session(client):
    sign_in(client)
    home = client.get("/admin")
    refused = client.post("/admin/logout", data={"csrf": "nope"}, follow_redirects=False)
    assert refused.status_code == 400
    response = client.post(
        "/admin/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_admin_decision_needs_csrf_and_writes_a_ledger_entry_with_method_admin(ctx, client):
    list_id = make_list(ctx)
    (cid,) = make_contacts(ctx, list_id, [None])
    sign_in(client)
    page = client.get(f"/admin/contacts/{cid}")
    assert page.status_code == 200
    refused = client.post(
        f"/admin/contacts/{cid}/decision",
        data={"grant": "open_tracking", "evidence": "letter of 2 Nov", "csrf": "forged"},
        follow_redirects=False,
    )
    assert refused.status_code == 400
    done = client.post(
        f"/admin/contacts/{cid}/decision",
        data={"grant": "open_tracking", "evidence": "letter of 2 Nov", "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with ctx.db.connect() as conn:
        (entry,) = entries_for_contact(conn, cid)
    assert entry.method == "admin"
    assert entry.actor == "admin:admin"
    assert entry.evidence == {"note": "letter of 2 Nov"}
    assert entry.flags_after == 1


def test_contact_page_shows_history_and_proof_downloads(ctx, client):
    list_id = make_list(ctx)
    (cid,) = make_contacts(ctx, list_id, [3])
    record_decision(
        ctx.db, cid, revoked=1, method=Method.PREFERENCE_PAGE, now=ctx.now(), cooldown=ctx.cooldown
    )
    sign_in(client)
    page = client.get(f"/admin/contacts/{cid}").text
    assert "preference_page" in page and "import" in page
    proof = client.get(f"/admin/contacts/{cid}/proof?format=json")
    assert proof.status_code == 200
    assert "attachment" in proof.headers["content-disposition"]
    assert proof.json()["contact"]["email"] == "person0@example.org"
    html = client.get(f"/admin/contacts/{cid}/proof?format=html")
    assert html.status_code == 200 and "person0@example.org" in html.text


def test_list_search_and_settings_page(ctx, client):
    list_id = make_list(ctx)
    make_contacts(ctx, list_id, [None] * 12)
    sign_in(client)
    found = client.get(f"/admin/lists/{list_id}", params={"q": "person11"}).text
    assert "person11@example.org" in found and "person10@example.org" not in found
    settings = client.get("/admin/settings").text
    assert "Compliant strategy" in settings
    assert "<td>consent request</td>" in settings  # the decision table names each kind


def test_legacy_strategy_is_flagged_not_compliant(ctx, settings):
    ctx.settings = Settings(_env_file=None, **{**settings.model_dump(), "strategy": "legacy"})
    users.ensure_admin(ctx, password=PASSWORD)
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as legacy_client:
        sign_in(legacy_client)
        page = legacy_client.get("/admin/settings").text
    assert "not compliant" in page.lower()
    assert "NOT COMPLIANT" in page


def test_campaign_page_has_the_report_and_svg_charts(ctx, client):
    from clearpixel.sending.campaigns import create_campaign, send_campaign
    from clearpixel.sending.transports import MemoryTransport

    make_contacts(ctx, make_list(ctx), [None, 1, 3])
    found = create_campaign(
        ctx,
        list_name="newsletter",
        kind="marketing",
        subject="News",
        html='<p>Hi <a href="https://example.org/a">a</a></p>',
    )
    send_campaign(ctx, found.id, MemoryTransport())
    sign_in(client)
    home = client.get("/admin").text
    assert f"/admin/campaigns/{found.id}" in home
    page = client.get(f"/admin/campaigns/{found.id}").text
    assert page.count("<svg") >= 4
    assert "Click-to-open rate" in page and "not unique" in page
    assert "anonymous" in page and "personal" in page
    assert client.get("/admin/campaigns/999").status_code == 404


def test_evidence_and_search_text_are_escaped(ctx, client):
    list_id = make_list(ctx)
    (cid,) = make_contacts(ctx, list_id, [None])
    record_decision(
        ctx.db,
        cid,
        granted=1,
        method=Method.API,
        now=ctx.now(),
        cooldown=ctx.cooldown,
        evidence={"source": "<script>alert(1)</script>"},
    )
    sign_in(client)
    page = client.get(f"/admin/contacts/{cid}")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy  # no inline script
    found = client.get(f"/admin/lists/{list_id}", params={"q": '"><img src=x>'}).text
    assert '"><img src=x>' not in found
