"""The admin UI end to end in real Chromium, as an editor runs a campaign: create a list,
import a CSV with a bad line (the line is named, nothing applied), fix it and import, write
a campaign with an auto-loaded personal URL (the editor refuses it inline, with its line),
fix it, preview it for a consenting and a non-consenting contact (personal and anonymous
pixel), send a test, send to a real SMTP server (aiosmtpd) and watch the progress reach
the end, open the report. An auditor meets the 403 page and the API's 403."""

from __future__ import annotations

import re

import httpx2
import pytest
from playwright.sync_api import expect

from clearpixel.accounts import api_keys, users
from clearpixel.audience import contacts as contact_service
from clearpixel.audience import lists as list_service
from clearpixel.context import Context
from clearpixel.sending import campaigns as sending
from clearpixel.web.server import ThreadedServer
from tests.sending.conftest import Handler, SmtpServer

PASSWORD = "a passphrase for the team"
BAD_CSV = (
    b"email,privacy_flags,first_name\n"
    b"ann@example.org,1,Ann\nnot an address,0,X\nbob@example.org,,Bob\n"
)
GOOD_CSV = b"email,privacy_flags,first_name\nann@example.org,1,Ann\nbob@example.org,,Bob\n"
PERSONAL_URL = (
    "<p>Hello {{ contact.attributes.first_name }}</p>\n"
    '<img src="https://cdn.example.org/{{ contact.email }}/banner.png" alt="">\n'
)
FIXED = (
    "<p>Hello {{ contact.attributes.first_name }}</p>\n"
    '<p><a href="https://shop.example.org/autumn">Autumn sale</a></p>\n'
)


@pytest.fixture
def smtp():
    server = SmtpServer(Handler())
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def served(ctx, smtp):
    """The app over real HTTP, delivering through the aiosmtpd server."""
    with_smtp = Context(
        settings=ctx.settings.model_copy(update={"smtp_url": smtp.url}), db=ctx.db, now=ctx.now
    )
    users.create_user(ctx, "eddie@example.org", role="editor", password=PASSWORD)
    users.create_user(ctx, "audrey@example.org", role="auditor", password=PASSWORD)
    with ThreadedServer(with_smtp) as server:
        yield server


def sign_in(page, url: str, email: str) -> None:
    page.goto(f"{url}/admin")
    page.fill("#username", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/admin")


def import_file(page, url: str, data: bytes, attribute: str = "attribute") -> None:
    """Upload `data` into the list "members", see its preview (one attribute column, named
    `attribute` in the page's language), give the legal basis and run it."""
    page.goto(f"{url}/admin/import")
    page.select_option("#list_id", label="members")
    page.set_input_files(
        "#file", files=[{"name": "members.csv", "mimeType": "text/csv", "buffer": data}]
    )
    page.click("#upload")
    assert page.inner_text("#import-preview thead").count(attribute) == 1
    page.fill("#basis", "signup form on the shop, 2026-10")
    page.click("#run-import")
    page.wait_for_selector("#import-refused, #import-report")


def set_template(page, html: str) -> None:
    page.wait_for_selector(".CodeMirror")
    page.evaluate("(v) => document.querySelector('.CodeMirror').CodeMirror.setValue(v)", html)


@pytest.mark.browser
def test_an_editor_runs_a_campaign_from_the_browser(ctx, page, served, smtp, artifacts_dir):
    url = served.url
    sign_in(page, url, "eddie@example.org")

    page.goto(f"{url}/admin/lists")
    page.fill("#list-name", "members")
    page.click("#create-list")
    assert page.inner_text("h1") == "List members"
    list_id = next(x.id for x in list_service.all_lists(ctx) if x.name == "members")

    import_file(page, url, BAD_CSV)
    refusal = page.inner_text("#import-refused")
    assert "Nothing was imported" in refusal and "line 3" in refusal
    assert contact_service.count_contacts(ctx, list_id) == 0
    download = page.get_attribute("#refused-download", "href")
    refused = httpx2.get(
        url + download, cookies={c["name"]: c["value"] for c in page.context.cookies()}
    )
    assert "not an address" in refused.text and "reason" in refused.text.splitlines()[0]
    page.screenshot(path=str(artifacts_dir / "admin-import-refused.png"), full_page=True)

    import_file(page, url, GOOD_CSV)
    report = page.inner_text("#import-report")
    assert re.search(r"created\s+2", report)
    assert contact_service.count_contacts(ctx, list_id) == 2

    page.goto(f"{url}/admin/campaigns/new")
    page.select_option("#list_id", label="members")
    page.fill("#subject", "Autumn news")
    set_template(page, PERSONAL_URL)
    problem = page.wait_for_selector("#problems .problem")
    assert problem.inner_text().startswith("Line 2:")
    assert "depends on the recipient" in problem.inner_text()
    assert page.locator(".CodeMirror .problem-line").count() == 1
    page.screenshot(path=str(artifacts_dir / "admin-campaign-refused.png"), full_page=True)
    set_template(page, FIXED)
    page.wait_for_selector("#template-ok")
    page.click("#save")
    page.wait_for_url(re.compile(r".*/admin/campaigns/\d+$"))
    campaign_id = int(page.url.rsplit("/", 1)[1])

    page.goto(f"{url}/admin/campaigns/{campaign_id}/preview?email=ann@example.org")
    chosen = page.locator(".mode.chosen")
    assert chosen.get_attribute("id") == "mode-personal"
    assert re.search(r"/o/[A-Za-z0-9_-]{20,}\.gif", chosen.inner_text())
    page.goto(f"{url}/admin/campaigns/{campaign_id}/preview?email=bob@example.org")
    chosen = page.locator(".mode.chosen")
    assert chosen.get_attribute("id") == "mode-anonymous"
    assert "/o/a/" in chosen.inner_text()
    page.screenshot(path=str(artifacts_dir / "admin-campaign-preview.png"), full_page=True)

    page.goto(f"{url}/admin/campaigns/{campaign_id}")
    page.fill("#test-sample", "ann@example.org")
    page.fill("#test-to", "eddie@example.org")
    page.click("form[action$='/test'] button")
    assert "Test sent to eddie@example.org" in page.inner_text("#tested")
    assert [m.recipients for m in smtp.messages] == [["eddie@example.org"]]

    page.click("#send")
    expect(page.locator("#progress-status")).to_have_text("sent", timeout=30000)
    assert page.inner_text("#progress-text") == "2 / 2"
    modes = page.inner_text("#progress-modes")
    assert "personal: 1" in modes and "anonymous: 1" in modes
    delivered = sorted(r for m in smtp.messages[1:] for r in m.recipients)
    assert delivered == ["ann@example.org", "bob@example.org"]
    assert sending.get_campaign(ctx, campaign_id).status == "sent"

    page.goto(f"{url}/admin")
    page.click(f"a[href='/admin/campaigns/{campaign_id}']")
    assert page.locator("#report").is_visible()
    assert "Open rate" in page.inner_text("#report")


@pytest.mark.browser
def test_an_auditor_meets_the_403_page_and_the_api_403(ctx, browser, served):
    url = served.url
    list_id = list_service.create_list(ctx, "members").id
    contact = contact_service.create_contact(ctx, list_id, "ann@example.org", {"city": "Lyon"})
    page = browser.new_context().new_page()
    sign_in(page, url, "audrey@example.org")
    for path in (f"/admin/contacts/{contact.id}", "/admin/import", "/admin/campaigns/new"):
        answer = page.goto(url + path)
        assert answer.status == 403, path
        assert "does not allow" in page.inner_text("#forbidden")
        assert "Lyon" not in page.content()
    assert page.goto(f"{url}/admin/consent").status == 200
    assert "Import" not in page.inner_text("nav")
    _, key = api_keys.create_api_key(ctx, "dpo", role="auditor")
    auth = {"Authorization": f"Bearer {key}"}
    assert httpx2.get(f"{url}/api/v1/contacts/{contact.id}", headers=auth).status_code == 403
    assert httpx2.post(f"{url}/api/v1/campaigns/1/send", headers=auth).status_code == 403
    with open(__file__, "rb") as upload:
        answer = httpx2.post(
            f"{url}/api/v1/lists/{list_id}/contacts/import", headers=auth, files={"file": upload}
        )
    assert answer.status_code == 403
    page.context.close()
