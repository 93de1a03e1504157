"""Notices, check results and webhook endpoints from the admin over HTTP: an incomplete
notice is refused with what it lacks (checked before saving too) and nothing is stored;
the settings page shows each check with what to change; an admin adds an endpoint with its
events, sees its log, removes it; an editor cannot."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from clearpixel.consent.notices import list_notices
from clearpixel.deliverability import webhooks
from tests.web.admin_session import csrf_of, signed_in

PASSWORD = "settings passphrase"


def client_for(ctx, email: str, role: str) -> TestClient:
    return signed_in(ctx, email, PASSWORD, role=role)


@pytest.fixture
def admin(ctx):
    client = client_for(ctx, "ada@example.org", "admin")
    yield client
    client.__exit__(None, None, None)


def test_an_incomplete_notice_is_refused_with_what_it_lacks(ctx, admin):
    page = admin.get("/admin/notices")
    token = csrf_of(page.text)
    form = {"csrf": token, "purpose": "open_tracking", "locale": "en", "text": "We track you."}
    missing = admin.post("/admin/notices/check", data=form).json()["missing"]
    assert any("organisation" in m for m in missing)
    refused = admin.post("/admin/notices", data=form)
    assert refused.status_code == 400 and "We track you." in refused.text
    assert list_notices(ctx) == []
    from clearpixel.consent.notices import default_text

    full = default_text("open_tracking", "en", ctx.settings.organisation)
    assert admin.post("/admin/notices/check", data={**form, "text": full}).json() == {"missing": []}
    stored = admin.post("/admin/notices", data={**form, "text": full})
    assert stored.status_code == 200 and "Version 1 of open_tracking (en) stored." in stored.text
    assert [n.text for n in list_notices(ctx)] == [full]


def test_settings_show_each_check_with_what_to_change(ctx, admin):
    page = admin.get("/admin/settings")
    table = page.text.split('id="check-results"')[1].split("</table>")[0]
    assert "tracking strategy" in table and "signing keys" in table
    assert table.count('<tr class="finding-') >= 7


def test_an_admin_adds_inspects_and_removes_a_webhook_endpoint(ctx, admin):
    token = csrf_of(admin.get("/admin/settings").text)
    bad = admin.post("/admin/webhooks", data={"csrf": token, "url": "ftp://x", "events": []})
    assert bad.status_code == 400 and "nothing was added" in bad.text
    added = admin.post(
        "/admin/webhooks",
        data={"csrf": token, "url": "https://crm.example.org/hook", "events": ["email.bounced"]},
    )
    assert added.status_code == 200 and "whsec_" in added.text
    (endpoint,) = webhooks.endpoints(ctx)
    assert endpoint.events == ["email.bounced"]
    assert "No attempt yet" in admin.get(f"/admin/webhooks/{endpoint.id}/log").text
    admin.post(f"/admin/webhooks/{endpoint.id}/remove", data={"csrf": token})
    assert webhooks.endpoints(ctx) == []


def test_an_editor_cannot_manage_webhooks_or_notices(ctx, admin):
    editor = client_for(ctx, "eddie@example.org", "editor")
    token = csrf_of(editor.get("/admin/settings").text)
    assert 'id="webhooks-h"' not in editor.get("/admin/settings").text
    answer = editor.post(
        "/admin/webhooks",
        data={"csrf": token, "url": "https://x.example.org/", "events": ["email.bounced"]},
    )
    assert answer.status_code == 403 and webhooks.endpoints(ctx) == []
    assert editor.post("/admin/notices", data={"csrf": token, "text": "x"}).status_code == 403
    editor.__exit__(None, None, None)
