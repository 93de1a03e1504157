"""An archived list takes nothing new: no import (CLI, API, browser upload), no contact added
by hand or by the API, no new campaign; what it holds stays, and restoring it lifts all of
that. Tried through each door with the list's own id."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from clearpixel.accounts import api_keys, users
from clearpixel.audience import contacts as contact_service
from clearpixel.audience import lists as list_service
from clearpixel.audience.csv_import import import_csv
from clearpixel.domain.errors import ClearpixelError
from clearpixel.sending import campaigns as sending
from clearpixel.web.app import create_app
from tests.web.admin_session import csrf_of, sign_in

PASSWORD = "correct horse battery staple"
HTML = '<p>Hi</p><a href="https://shop.example.org/sale">sale</a>'


@pytest.fixture
def archived(ctx, tmp_path):
    target = list_service.create_list(ctx, "old news")
    contact_service.create_contact(ctx, target.id, "kept@example.org")
    list_service.archive_list(ctx, target.id)
    csv = tmp_path / "people.csv"
    csv.write_text("email\nnew@example.org\n")
    return target, csv


def contacts_of(ctx, list_id: int) -> list[str]:
    return [c.email for c in contact_service.contacts_page(ctx, list_id)]


def test_services_refuse_an_archived_list_and_keep_what_it_holds(ctx, archived):
    target, csv = archived
    with pytest.raises(ClearpixelError, match="'old news' is archived: restore it first"):
        import_csv(ctx, csv, list_name=target.name)
    with pytest.raises(ClearpixelError, match="archived"):
        contact_service.create_contact(ctx, target.id, "hand@example.org")
    with pytest.raises(ClearpixelError, match="archived"):
        sending.create_campaign(
            ctx, list_name=target.name, kind="marketing", subject="s", html=HTML
        )
    assert contacts_of(ctx, target.id) == ["kept@example.org"]
    assert sending.all_campaigns(ctx, archived=None) == []

    list_service.archive_list(ctx, target.id, archived=False)
    assert import_csv(ctx, csv, list_name=target.name).created == 1
    sending.create_campaign(ctx, list_name=target.name, kind="marketing", subject="s", html=HTML)
    assert sorted(contacts_of(ctx, target.id)) == ["kept@example.org", "new@example.org"]


def test_the_api_and_the_browser_upload_refuse_an_archived_list_by_id(ctx, archived):
    target, csv = archived
    _, secret = api_keys.create_api_key(ctx, "tests")
    users.create_user(ctx, "eve@example.org", role="editor", password=PASSWORD)
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as client:
        added = client.post(
            f"/api/v1/lists/{target.id}/contacts",
            json={"email": "api@example.org"},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert 400 <= added.status_code < 500 and "archived" in added.text, added.text
        imported = client.post(
            f"/api/v1/lists/{target.id}/contacts/import",
            files={"file": ("people.csv", csv.read_bytes(), "text/csv")},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert 400 <= imported.status_code < 500 and "archived" in imported.text, imported.text

        sign_in(client, "eve@example.org", PASSWORD)
        page = client.get("/admin/import")
        uploaded = client.post(
            "/admin/import",
            data={"csrf": csrf_of(page.text), "list_id": str(target.id)},
            files={"file": ("people.csv", csv.read_bytes(), "text/csv")},
        )
        assert uploaded.status_code == 400 and "is archived: restore it first" in uploaded.text
    assert contacts_of(ctx, target.id) == ["kept@example.org"]
    assert not list((ctx.settings.data_dir / "admin-imports").glob("*.csv"))
