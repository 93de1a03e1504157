"""The admin UI in real Chromium: sign-in (refused, then rate-limited), a campaign report with
SVG charts, contact search, a contact's ledger history and the proof download."""

from __future__ import annotations

import email
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from clearpixel.accounts import sessions, users
from clearpixel.consent import record_decision
from clearpixel.domain.ledger import Method
from clearpixel.reports.campaign import campaign_report
from clearpixel.sending.campaigns import create_campaign, send_campaign
from clearpixel.sending.transports import MemoryTransport
from tests.helpers import make_contacts, make_list
from tests.web.tracking_support import eventually, request

PASSWORD = "a long admin passphrase"
HUMAN_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.1"


def sign_in(page, url, password=PASSWORD):
    page.goto(f"{url}/admin")
    assert "/admin/login" in page.url
    page.fill("#username", "admin")
    page.fill("#password", password)
    page.click("button[type=submit]")


def html_of(data: bytes) -> str:
    for part in email.message_from_bytes(data).walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode()
    return ""


@pytest.fixture
def installation(ctx):
    """A list with history, a sent campaign and a few ingested opens."""
    users.ensure_admin(ctx, password=PASSWORD)
    list_id = make_list(ctx)
    ids = make_contacts(ctx, list_id, [None, 0, 1, 3, 7, 1], locale="fr")
    record_decision(
        ctx.db,
        ids[2],
        revoked=1,
        method=Method.PREFERENCE_PAGE,
        now=ctx.now(),
        cooldown=ctx.cooldown,
    )
    campaign = create_campaign(
        ctx,
        list_name="newsletter",
        kind="marketing",
        subject="November news",
        html='<p>Hello <a href="https://shop.example.org/nov">the sale</a></p>',
    )
    transport = MemoryTransport()
    # send_campaign runs its own event loop; Playwright's sync API holds one in this thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(send_campaign, ctx, campaign.id, transport).result()
    base = re.escape(ctx.settings.base_url)
    pixels = [
        m.group(1)
        for _, data in transport.messages
        if (m := re.search(base + r"(/o/[^\"'\s]+\.gif)", html_of(data)))
    ]
    assert len(pixels) == len(ids)
    return {"campaign": campaign, "contacts": ids, "pixels": pixels}


@pytest.mark.browser
def test_wrong_password_is_refused_then_rate_limited(ctx, page, live_server, artifacts_dir):
    users.ensure_admin(ctx, password=PASSWORD)
    sign_in(page, live_server.url, password="not it")
    assert "wrong username or password" in page.inner_text("#login-error")
    page.screenshot(path=str(artifacts_dir / "admin-login-refused.png"))
    for _ in range(sessions.FREE_FAILURES - 1):
        page.fill("#username", "admin")
        page.fill("#password", "still not it")
        page.click("button[type=submit]")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    assert "too many failed sign-ins" in page.inner_text("#login-error")
    assert "/admin/login" in page.url or page.url.endswith("/admin/login")
    page.screenshot(path=str(artifacts_dir / "admin-login-rate-limited.png"))


@pytest.mark.browser
def test_campaign_report_contact_search_history_and_proof(
    ctx, page, live_server, artifacts_dir, installation
):
    campaign = installation["campaign"]
    for i, path in enumerate(installation["pixels"]):
        agent = HUMAN_UA if i % 2 else "Mozilla/5.0"  # Apple Mail Privacy Protection
        request(live_server.url, path, headers={"User-Agent": agent})
    assert eventually(lambda: campaign_report(ctx, str(campaign.id)).anonymous_opens.total > 0)

    sign_in(page, live_server.url)
    page.wait_for_url(re.compile(r".*/admin/?$"))
    page.screenshot(path=str(artifacts_dir / "admin-overview.png"), full_page=True)

    page.click(f"a[href='/admin/campaigns/{campaign.id}']")
    page.wait_for_selector("#opens-hourly svg")
    assert page.locator("svg.chart").count() >= 4
    assert page.locator("#opens-hourly svg .mark").count() >= 1
    assert "not unique" in page.inner_text("#report")
    page.screenshot(path=str(artifacts_dir / "admin-campaign-report.png"), full_page=True)

    page.click("text=Lists & contacts")
    page.click("a:text('newsletter')")
    page.fill("#q", "person2@")
    page.click("form.search button")
    rows = page.locator("table.contacts tbody tr")
    assert rows.count() == 1
    page.screenshot(path=str(artifacts_dir / "admin-contact-search.png"))
    page.click("a:text('person2@example.org')")
    history = page.inner_text("#history")
    assert "import" in history and "preference_page" in history
    page.screenshot(path=str(artifacts_dir / "admin-contact.png"), full_page=True)

    with page.expect_download() as download:
        page.click("#proof-html")
    body = Path(download.value.path()).read_text(encoding="utf-8")
    assert "person2@example.org" in body
    assert download.value.suggested_filename.endswith(".html")

    page.click("text=Consent")
    assert page.locator("svg.chart").count() >= 3
    page.screenshot(path=str(artifacts_dir / "admin-consent.png"), full_page=True)
    page.click("text=Settings")
    assert "Compliant strategy" in page.inner_text("#compliance")
    page.screenshot(path=str(artifacts_dir / "admin-settings.png"), full_page=True)
