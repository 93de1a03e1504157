"""Campaigns from the admin over HTTP: the editor's check names the line of an auto-loaded
personal URL and nothing is stored, a draft is saved and edited (a new draft replaces it),
every mode previewed for a consenting and a non-consenting contact, a test to one address,
a background send whose progress reaches the end, cancel refused on a draft, delete."""

from __future__ import annotations

import email
import re
import time

import pytest
from fastapi.testclient import TestClient

from clearpixel.accounts import users
from clearpixel.sending import campaigns as sending
from clearpixel.web.app import create_app
from tests.helpers import make_contacts, make_list
from tests.web.admin_session import csrf_of, sign_in

PASSWORD = "editor passphrase 1"
BAD = '<p>Hi</p>\n<img src="https://cdn.example.org/{{ contact.email }}.png">\n'
GOOD = '<p>Hi {{ contact.email }}</p>\n<a href="https://shop.example.org/sale">sale</a>\n'


@pytest.fixture
def editor(ctx):
    list_id = make_list(ctx)
    make_contacts(ctx, list_id, [1, None])  # person0 consents, person1 was never asked
    users.create_user(ctx, "eddie@example.org", role="editor", password=PASSWORD)
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as client:
        sign_in(client, "eddie@example.org", PASSWORD)
        client.list_id = list_id
        yield client


def draft(client, html: str, **extra: str):
    page = client.get("/admin/campaigns/new")
    data = {
        "csrf": csrf_of(page.text),
        "list_id": str(client.list_id),
        "kind": "marketing",
        "subject": "November",
        "html": html,
        **extra,
    }
    return client.post("/admin/campaigns/new", data=data, follow_redirects=False)


def test_the_editor_is_served_by_the_installation_with_its_licence(editor):
    page = editor.get("/admin/campaigns/new")
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert scripts and all(src.startswith("/admin/static/") for src in scripts)
    for src in scripts:
        assert editor.get(src).status_code == 200, src
    assert "MIT" in editor.get("/admin/static/vendor/codemirror/LICENSE").text
    assert editor.get("/admin/static/../admin.py").status_code == 404


def test_an_auto_loaded_personal_url_is_named_with_its_line_and_nothing_is_stored(ctx, editor):
    page = editor.get("/admin/campaigns/new")
    checked = editor.post(
        "/admin/campaigns/check",
        data={
            "csrf": csrf_of(page.text),
            "list_id": str(editor.list_id),
            "kind": "marketing",
            "subject": "x",
            "html": BAD,
        },
    ).json()
    (problem,) = checked["problems"]
    assert problem["line"] == 2 and "depends on the recipient" in problem["message"]
    refused = draft(editor, BAD)
    assert refused.status_code == 400 and "Line 2:" in refused.text
    assert sending.all_campaigns(ctx) == []


def test_save_edit_preview_test_and_send_in_the_background(ctx, editor):
    saved = draft(editor, GOOD)
    assert saved.status_code == 303
    first = int(saved.headers["location"].rsplit("/", 1)[1])
    edit = editor.get(f"/admin/campaigns/{first}/edit")
    assert "https://shop.example.org/sale" in edit.text
    again = draft(editor, GOOD.replace("Hi", "Hello"), replaces=str(first))
    second = int(again.headers["location"].rsplit("/", 1)[1])
    assert [c.id for c in sending.all_campaigns(ctx)] == [second]

    consenting = editor.get(f"/admin/campaigns/{second}/preview?email=person0@example.org")
    chosen = re.search(r'class="mode chosen" id="mode-(\w+)"', consenting.text).group(1)
    assert chosen == "personal"
    assert re.search(r"/o/[A-Za-z0-9_-]{20,}\.gif", consenting.text)
    refusing = editor.get(f"/admin/campaigns/{second}/preview?email=person1@example.org")
    assert re.search(r'class="mode chosen" id="mode-(\w+)"', refusing.text).group(1) == "anonymous"
    assert "/o/a/" in refusing.text
    assert "img src=&#34;https://" not in refusing.text.split('id="mode-personal"')[0]

    page = editor.get(f"/admin/campaigns/{second}")
    tested = editor.post(
        f"/admin/campaigns/{second}/test",
        data={"csrf": csrf_of(page.text), "sample": "person0@example.org", "to": "me@example.net"},
    )
    assert tested.status_code == 200 and "Test sent to me@example.net" in tested.text
    (test_mail,) = (ctx.settings.data_dir / "outbox" / "tests").glob("*.eml")
    message = email.message_from_bytes(test_mail.read_bytes())
    assert "/o/" not in message.as_string()  # a tester's reading never counts as the contact's

    editor.post(f"/admin/campaigns/{second}/send", data={"csrf": csrf_of(page.text)})
    deadline = time.monotonic() + 30
    while True:
        progress = editor.get(f"/admin/campaigns/{second}/progress").json()
        if progress["job"] and progress["job"]["finished"]:
            break
        assert time.monotonic() < deadline, progress
        time.sleep(0.1)
    assert progress["job"]["error"] is None
    assert progress["recipients"] == {"sent": 2}
    assert progress["by_mode"] == {"personal": 1, "anonymous": 1}
    assert progress["status"] == "sent"


def test_a_draft_cannot_be_cancelled_and_is_deleted(ctx, editor):
    saved = draft(editor, GOOD)
    campaign_id = int(saved.headers["location"].rsplit("/", 1)[1])
    page = editor.get(f"/admin/campaigns/{campaign_id}")
    token = csrf_of(page.text)
    cancel = editor.post(f"/admin/campaigns/{campaign_id}/cancel", data={"csrf": token})
    assert cancel.status_code == 400 and "is a draft" in cancel.text
    editor.post(f"/admin/campaigns/{campaign_id}/delete", data={"csrf": token})
    assert sending.all_campaigns(ctx) == []
