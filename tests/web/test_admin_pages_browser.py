"""Every admin page in real Chromium: an axe-core scan (axe-playwright-python) finds no
serious or critical violation, and no page loads anything from another origin, even with
data that names other origins (a campaign's external image, evidence holding markup)."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from clearpixel.accounts import users
from clearpixel.audience import contacts as contact_service
from clearpixel.audience import lists as list_service
from clearpixel.consent import record_decision
from clearpixel.deliverability import webhooks
from clearpixel.domain.ledger import Method
from clearpixel.sending import campaigns as sending
from tests.web.admin_walk import pages

PASSWORD = "an admin passphrase"
EXTERNAL = '<p>Hi</p><img src="https://cdn.example.org/banner.png" alt="banner">'


@pytest.fixture
def installation(ctx):
    users.create_user(ctx, "ada@example.org", role="admin", password=PASSWORD)
    list_id = list_service.create_list(ctx, "members").id
    contact = contact_service.create_contact(ctx, list_id, "ann@example.org", {"city": "Lyon"})
    record_decision(
        ctx.db,
        contact.id,
        granted=1,
        method=Method.ADMIN,
        now=ctx.now(),
        cooldown=ctx.cooldown,
        actor="admin:ada@example.org",
        evidence={"note": '<img src="https://evil.example.net/x.gif">'},
    )
    campaign = sending.create_campaign(
        ctx, list_name="members", kind="marketing", subject="News", html=EXTERNAL
    )
    endpoint = webhooks.add_endpoint(ctx, "https://crm.example.org/hook", ["email.bounced"])
    return {
        "list": list_id,
        "contact": contact.id,
        "campaign": campaign.id,
        "endpoint": endpoint.id,
    }


def signed_in_page(browser, url: str, email: str = "ada@example.org"):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/admin/login")
    page.fill("#username", email)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{url}/admin")
    return page


@pytest.mark.browser
def test_no_admin_page_loads_anything_from_another_origin(browser, live_server, installation):
    url = live_server.url
    page = signed_in_page(browser, url)
    requested: list[str] = []
    page.context.on("request", lambda request: requested.append(request.url))
    for path in pages(installation):
        page.goto(url + path)
        page.wait_for_load_state("networkidle")
    assert requested, "the pages made no request at all"
    foreign = [u for u in requested if not (u.startswith(url + "/") or u.startswith("data:"))]
    assert foreign == []
    page.context.close()


@pytest.mark.browser
def test_the_check_catches_a_page_that_loads_from_another_origin(browser, live_server):
    """The check above can fail: a page holding a foreign image is caught."""
    page = browser.new_context().new_page()
    requested: list[str] = []
    page.context.on("request", lambda request: requested.append(request.url))
    page.route("https://cdn.example.org/**", lambda route: route.abort())
    page.set_content(EXTERNAL)
    page.wait_for_load_state("networkidle")
    assert [u for u in requested if u.startswith("https://cdn.example.org/")]
    page.context.close()


@pytest.mark.browser
def test_no_admin_page_has_a_serious_accessibility_violation(
    ctx, browser, live_server, installation
):
    url = live_server.url
    users.create_user(ctx, "audrey@example.org", role="auditor", password=PASSWORD)
    admin = signed_in_page(browser, url)
    auditor = signed_in_page(browser, url, "audrey@example.org")
    login = browser.new_context().new_page()
    visits = [(admin, path) for path in [*pages(installation), "/admin/contacts/999999"]]
    visits += [(auditor, "/admin/users"), (login, "/admin/login")]  # the 403 page, sign-in
    axe = Axe()
    found = {}
    for page, path in visits:
        page.goto(url + path)
        page.wait_for_load_state("networkidle")
        serious = [
            (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
            for v in axe.run(page).response["violations"]
            if v.get("impact") in ("serious", "critical")
        ]
        if serious:
            found[path] = serious
    for page in (admin, auditor, login):
        page.context.close()
    assert found == {}
