"""What a recipient does, in real Chromium against the live server: sign up, answer a consent
request (accept, refuse, leave), stop tracking in one click from the preference page, undo."""

from __future__ import annotations

import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from clearpixel.consent.pages import expire_pending
from clearpixel.store.contacts import find_contact
from tests.consent.consent_helpers import (
    consent_token,
    contact,
    entries,
    preferences_token,
    state,
)
from tests.helpers import make_contacts, make_list

pytestmark = pytest.mark.browser
DOCS_IMG = Path(__file__).parent.parent.parent / "docs" / "img"


def _shot(page, artifacts_dir: Path, name: str, *, docs: bool = False) -> None:  # type: ignore[no-untyped-def]
    path = artifacts_dir / name
    page.screenshot(path=str(path), full_page=True)
    if docs and os.environ.get("CLEARPIXEL_DOCS_SCREENSHOTS"):
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_IMG / name)


def _contact_by_email(ctx, email):  # type: ignore[no-untyped-def]
    with ctx.db.connect() as conn:
        return find_contact(conn, 1, email)


@pytest.mark.parametrize(
    ("ticks", "flags"),
    [((), 0), (("open tracking",), 1), (("open tracking", "personalisation"), 3)],
)
def test_sign_up_with_and_without_ticking_boxes(
    ctx, page, live_server, artifacts_dir, ticks, flags
):
    make_list(ctx)
    page.set_viewport_size({"width": 420, "height": 900})
    page.goto(f"{live_server.url}/subscribe/newsletter")
    for box in page.get_by_role("checkbox").all():
        assert not box.is_checked()
    page.get_by_label("Email address").fill("reader@example.org")
    for label in ticks:
        page.get_by_label(f"I agree to {label}").check()
    if flags == 1:
        _shot(page, artifacts_dir, "signup-form.png", docs=True)
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    (mail,) = (Path(ctx.settings.data_dir) / "outbox" / "system").glob("*.eml")
    link = re.search(r"https://mail\.example\.test(/subscribe/confirm/[\w-]+)", mail.read_text())
    assert link is not None
    page.goto(live_server.url + link.group(1))  # the owner follows the emailed link
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Thank you").wait_for()
    found = _contact_by_email(ctx, "reader@example.org")
    assert found.privacy_flags == flags
    logged = entries(ctx, found.id)
    assert len(logged) == len(ctx.purposes)
    assert all(e.method == "signup_form" and e.notice_sha256 for e in logged)
    assert all(e.evidence["form"]["ip"] == "127.0.0.0" for e in logged)
    _shot(page, artifacts_dir, f"signup-done-{flags}.png")


def test_follow_a_consent_link_and_accept(ctx, page, live_server, artifacts_dir):
    [cid] = make_contacts(ctx, make_list(ctx), [None])
    page.goto(f"{live_server.url}/consent/{consent_token(ctx, cid)}")
    accept = page.get_by_role("button", name="Accept")
    refuse = page.get_by_role("button", name="Refuse")
    assert accept.bounding_box()["height"] == refuse.bounding_box()["height"]  # equal buttons
    assert accept.bounding_box()["width"] == refuse.bounding_box()["width"]
    _shot(page, artifacts_dir, "consent-page.png")
    accept.click()
    page.get_by_text("you accepted open tracking").wait_for()
    assert contact(ctx, cid).privacy_flags == 1
    assert [e.method for e in entries(ctx, cid)] == ["consent_page"]


def test_follow_a_consent_link_and_refuse_with_the_keyboard(ctx, page, live_server, artifacts_dir):
    [cid] = make_contacts(ctx, make_list(ctx), [None])
    page.goto(f"{live_server.url}/consent/{consent_token(ctx, cid)}")
    page.get_by_role("button", name="Refuse").focus()
    page.keyboard.press("Enter")
    page.get_by_text("you refused open tracking").wait_for()
    found = contact(ctx, cid)
    assert found.privacy_flags == 0
    assert found.consent_cooldown_until is not None
    _shot(page, artifacts_dir, "consent-refused.png")


def test_follow_a_consent_link_and_leave(ctx, person_page, live_server):
    page = person_page
    [cid] = make_contacts(ctx, make_list(ctx), [None])
    with page.expect_response(lambda r: r.url.endswith("/seen")):
        page.goto(f"{live_server.url}/consent/{consent_token(ctx, cid)}")
    page.get_by_role("button", name="Accept").wait_for()
    page.goto("about:blank")
    assert contact(ctx, cid).privacy_flags is None
    later = ctx.now() + timedelta(minutes=ctx.settings.consent_page_timeout_minutes)
    assert expire_pending(ctx, later).refusals == 1
    found = contact(ctx, cid)
    assert found.privacy_flags == 0
    assert found.consent_cooldown_until is not None
    assert [e.method for e in entries(ctx, cid)] == ["consent_page_no_action"]


def test_preference_page_withdraws_in_one_click_and_offers_undo(
    ctx, page, live_server, artifacts_dir
):
    [cid] = make_contacts(ctx, make_list(ctx), [3])
    page.set_viewport_size({"width": 420, "height": 900})
    page.goto(f"{live_server.url}/preferences/{preferences_token(ctx, cid)}")
    status = page.locator("#cp-status")
    status.get_by_text("Tracking stopped").wait_for()
    found = contact(ctx, cid)
    assert found.privacy_flags == 0
    [_import, withdrawal] = entries(ctx, cid)
    assert withdrawal.method == "preference_page"
    assert withdrawal.flags_before == 3 and withdrawal.flags_after == 0
    assert withdrawal.evidence["via"] == "script"
    assert page.locator("#cp-current").get_by_text("refused").count() == len(ctx.purposes)
    _shot(page, artifacts_dir, "preferences-withdrawn.png", docs=True)

    page.get_by_role("button", name="Undo").click()
    status.get_by_text("restored").wait_for()
    assert contact(ctx, cid).privacy_flags == 3
    assert [e.method for e in entries(ctx, cid)][-2:] == ["preference_page", "preference_page"]


def test_without_javascript_a_visit_changes_nothing_and_the_one_button_works(
    ctx, browser, live_server, artifacts_dir
):
    [cid] = make_contacts(ctx, make_list(ctx), [1])
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        before = state(ctx, cid)
        page.goto(f"{live_server.url}/consent/{consent_token(ctx, cid)}")
        page.goto(f"{live_server.url}/preferences/{preferences_token(ctx, cid)}")
        assert state(ctx, cid) == before
        page.get_by_role("button", name="Stop tracking").click()
        page.locator("#cp-status").get_by_text("Tracking stopped").wait_for()
        assert contact(ctx, cid).privacy_flags == 0
        assert entries(ctx, cid)[-1].evidence["via"] == "form"
        # granting again needs an explicit choice: tick and save
        page.get_by_label("I agree to open tracking").check()
        page.get_by_role("button", name="Save my choices").click()
        page.locator("#cp-status").get_by_text("saved").wait_for()
        assert contact(ctx, cid).privacy_flags == 1
        _shot(page, artifacts_dir, "preferences-nojs.png")
    finally:
        context.close()
