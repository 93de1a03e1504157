"""Scheduling and the archive in real Chromium: an editor schedules a campaign from its page
(the time typed in the installation's zone, which the page names), sees it in the campaign
list with its time, is told to unschedule it before editing, and unschedules it; archives a
sent campaign, finds it under the archived filter and opens its report."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clearpixel.accounts import users
from clearpixel.context import Context
from clearpixel.sending import campaigns as sending
from clearpixel.sending.transports import OutboxTransport
from clearpixel.web.server import ThreadedServer
from tests.helpers import make_contacts, make_list
from tests.web.test_admin_e2e_browser import PASSWORD, sign_in

HTML = "<p>Hello</p><p><a href='https://shop.example.org/sale'>Sale</a></p>"


@pytest.fixture
def served(ctx):
    """The app over real HTTP in the Europe/Paris zone, with an editor."""
    in_paris = Context(
        settings=ctx.settings.model_copy(update={"timezone": "Europe/Paris"}),
        db=ctx.db,
        now=ctx.now,
    )
    users.create_user(ctx, "eddie@example.org", role="editor", password=PASSWORD)
    with ThreadedServer(in_paris) as server:
        yield server


def _campaign(ctx, subject: str) -> int:  # type: ignore[no-untyped-def]
    return sending.create_campaign(
        ctx, list_name="newsletter", kind="marketing", subject=subject, html=HTML
    ).id


@pytest.mark.browser
def test_an_editor_schedules_and_unschedules_a_campaign(ctx, page, served, artifacts_dir):
    make_contacts(ctx, make_list(ctx), [1, None])
    campaign_id = _campaign(ctx, "Winter news")
    url = served.url
    sign_in(page, url, "eddie@example.org")
    page.goto(f"{url}/admin/campaigns/{campaign_id}")
    assert page.inner_text("label[for=schedule-at]") == "Send at (time zone Europe/Paris)"
    page.fill("#schedule-at", "2026-11-05T10:30")
    page.click("#schedule")
    page.wait_for_url(f"{url}/admin/campaigns/{campaign_id}")
    expected = "Nov 5, 2026, 10:30 Europe/Paris (Nov 5, 2026, 09:30 UTC)"
    assert expected in page.inner_text("#campaign-status")
    assert sending.get_campaign(ctx, campaign_id).scheduled_at == datetime(
        2026, 11, 5, 9, 30, tzinfo=UTC
    )
    assert page.locator("#send").count() == 0, "a scheduled campaign is not sent by hand"
    assert page.goto(f"{url}/admin/campaigns/{campaign_id}/edit").status == 400
    assert "unschedule it first to edit it" in page.inner_text("main")
    page.goto(f"{url}/admin")
    row = page.locator("tr", has=page.locator(f"a[href='/admin/campaigns/{campaign_id}']"))
    assert f"scheduled: {expected}" in row.inner_text()
    page.screenshot(path=str(artifacts_dir / "admin-campaign-scheduled.png"), full_page=True)

    page.goto(f"{url}/admin/campaigns/{campaign_id}")
    page.click("#unschedule")
    page.wait_for_url(f"{url}/admin/campaigns/{campaign_id}")
    assert page.inner_text("#campaign-status") == "draft"
    assert sending.get_campaign(ctx, campaign_id).scheduled_at is None

    page.fill("#schedule-at", "2026-11-01T08:00")  # before the installation's now
    page.click("#schedule")
    assert "is in the past" in page.inner_text("main")
    assert sending.get_campaign(ctx, campaign_id).status == "draft"


@pytest.mark.browser
def test_an_editor_archives_a_sent_campaign_and_finds_its_report(
    ctx, page, served, tmp_path, artifacts_dir
):
    make_contacts(ctx, make_list(ctx), [1, None])
    sent_id = _campaign(ctx, "Autumn news")
    draft_id = _campaign(ctx, "Next one")
    sending.send_campaign(ctx, sent_id, OutboxTransport(tmp_path / "box"))
    url = served.url
    sign_in(page, url, "eddie@example.org")
    page.goto(f"{url}/admin/campaigns/{draft_id}")
    assert page.locator("#archive").count() == 0, "a draft is deleted, not archived"
    page.goto(f"{url}/admin/campaigns/{sent_id}")
    page.click("#archive")
    page.wait_for_url(f"{url}/admin/campaigns/{sent_id}")
    assert page.inner_text("#archived") == "archived"

    page.goto(f"{url}/admin")
    assert page.locator(f"a[href='/admin/campaigns/{sent_id}']").count() == 0
    assert page.locator(f"a[href='/admin/campaigns/{draft_id}']").count() == 1
    page.click("#archive-filter")
    page.wait_for_url(f"{url}/admin?archived=1")
    assert page.inner_text("h1") == "Archived campaigns"
    assert page.locator(f"a[href='/admin/campaigns/{draft_id}']").count() == 0
    page.screenshot(path=str(artifacts_dir / "admin-campaigns-archived.png"), full_page=True)
    page.click(f"a[href='/admin/campaigns/{sent_id}']")
    assert page.locator("#report").is_visible()
    assert "Open rate" in page.inner_text("#report")

    page.click("#restore")
    page.wait_for_url(f"{url}/admin/campaigns/{sent_id}")
    assert page.locator("#archived").count() == 0
    page.goto(f"{url}/admin")
    assert page.locator(f"a[href='/admin/campaigns/{sent_id}']").count() == 1
