"""Stored XSS in real Chromium: markup in every name and text an admin page shows (campaign,
list, notice, contact attribute and consent evidence, import file name, user email, API key
name, webhook URL) stays text. Each payload would both run a script (setting
`window.__pwned`) and add an element (`data-pwn`), so the test sees an escaping failure even
where the Content-Security-Policy would stop the script; every page carries that policy."""

from __future__ import annotations

import pytest

from clearpixel.accounts import api_keys, users
from clearpixel.audience import contacts as contact_service
from clearpixel.audience import lists as list_service
from clearpixel.consent import record_decision
from clearpixel.consent.notices import add_notice, default_text
from clearpixel.deliverability import webhooks
from clearpixel.domain.ledger import Method
from clearpixel.sending import campaigns as sending
from clearpixel.web.server import ThreadedServer
from tests.web.admin_walk import pages as admin_pages

PASSWORD = "an admin passphrase"
PAYLOAD = '"><img data-pwn=1 src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
TIGHT = "<svg/data-pwn=1/onload=window.__pwned=1>"  # no spaces: fits an email address
FILE_NAME = "<img data-pwn=1 src=x onerror=window.__pwned=1>.csv"  # no slash: fits a file


@pytest.fixture
def attacked(ctx):
    users.ensure_admin(ctx, password=PASSWORD)
    users.create_user(ctx, f"{TIGHT}@example.org", role="auditor", password=PASSWORD)
    name = f"news {PAYLOAD}"
    list_id = list_service.create_list(ctx, name).id
    contact = contact_service.create_contact(
        ctx, list_id, "ann@example.org", {"city": PAYLOAD, TIGHT: "key"}
    )
    record_decision(
        ctx.db,
        contact.id,
        granted=1,
        method=Method.ADMIN,
        now=ctx.now(),
        cooldown=ctx.cooldown,
        actor="admin:admin",
        evidence={"note": PAYLOAD},
    )
    campaign = sending.create_campaign(
        ctx,
        list_name=name,
        kind="marketing",
        subject=f"Subject {PAYLOAD}",
        html="<p>Hello</p>",
        name=f"Autumn {PAYLOAD}",
    )
    add_notice(
        ctx,
        "open_tracking",
        "en",
        default_text("open_tracking", "en", ctx.settings.organisation) + f"\n{PAYLOAD}",
    )
    endpoint = webhooks.add_endpoint(ctx, f"https://crm.example.org/{TIGHT}", ["email.bounced"])
    api_keys.create_api_key(ctx, f"crm {PAYLOAD}", role="auditor")
    with ThreadedServer(ctx) as server:
        yield (
            server.url,
            {
                "list": list_id,
                "contact": contact.id,
                "campaign": campaign.id,
                "endpoint": endpoint.id,
            },
        )


NO_STORED_VALUES = {"/admin/account"}  # the signed-in user's own form


def _pages(ids: dict[str, int]) -> list[str]:
    """Every admin page (as the accessibility scan walks them), the proof page, and the new
    campaign page copying the attacked one."""
    return [
        *admin_pages(ids),
        f"/admin/contacts/{ids['contact']}/proof",
        f"/admin/campaigns/new?copy={ids['campaign']}",
    ]


def _clean(page) -> None:
    assert page.evaluate("window.__pwned") is None, page.url
    assert page.locator("[data-pwn]").count() == 0, page.url


def test_no_stored_markup_runs_or_becomes_an_element(browser, attacked, tmp_path):
    url, ids = attacked
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(f"{url}/admin/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{url}/admin")
    shown = []
    for path in _pages(ids):
        if path.endswith("/proof"):  # a download, checked as a file below
            continue
        answer = page.goto(url + path)
        if "window.__pwned=1" in page.inner_text("body") + page.content():
            shown.append(path)
        assert answer is not None and answer.status == 200, path
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        assert "no-store" in answer.headers["cache-control"]
        _clean(page)
    # the payloads were on every page that shows stored values, as text
    holding = [p for p in _pages(ids) if not p.endswith("/proof") and p not in NO_STORED_VALUES]
    assert sorted(shown) == sorted(holding)
    # the consent proof opened as a page of its own is inert too
    proof = context.request.get(f"{url}/admin/contacts/{ids['contact']}/proof")
    assert "attachment" in proof.headers["content-disposition"]
    assert "script-src 'self'" in proof.headers["content-security-policy"]
    assert PAYLOAD not in proof.text()
    # an uploaded file's own name, shown on the import preview
    upload = tmp_path / FILE_NAME
    upload.write_text("email,city\nbob@example.org,Paris\n", encoding="utf-8")
    page.goto(f"{url}/admin/import")
    page.select_option("select[name=list_id]", str(ids["list"]))
    page.set_input_files("#file", str(upload))
    page.locator("form[action='/admin/import'] [type=submit]").click()
    page.wait_for_load_state()
    assert "onerror=window.__pwned=1&gt;.csv" in page.content()
    _clean(page)
    # a failing form echoes what was typed: still text
    page.goto(f"{url}/admin/users")
    page.fill("input[name=email]", PAYLOAD)
    page.locator("form[action='/admin/users'] [type=submit]").click()
    page.wait_for_load_state()
    _clean(page)
    context.close()


def test_the_sign_in_page_cannot_be_framed_or_cached(page, live_server):
    answer = page.goto(
        f"{live_server.url}/admin/login?next=/admin%22%3E%3Cscript%3Ewindow.__pwned=1%3C/script%3E"
    )
    assert answer is not None
    headers = answer.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "no-store" in headers["cache-control"]
    _clean(page)
