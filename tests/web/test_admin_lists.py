"""The list page's filters over HTTP: by subscription status and by one purpose's consent
state, which always agrees with the state the contact's own page shows (the one function
in consent/history.py), paged."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from clearpixel.accounts import users
from clearpixel.audience import contacts as contact_service
from clearpixel.store.contacts import set_status
from clearpixel.web.app import create_app
from tests.helpers import make_contacts, make_list
from tests.web.admin_session import csrf_of, sign_in

PASSWORD = "lists passphrase"


@pytest.fixture
def browsing(ctx):
    list_id = make_list(ctx)
    ids = make_contacts(ctx, list_id, [1, 0, None, 2, 3, None])
    with ctx.db.begin() as tx:
        set_status(tx, ids[4], "unsubscribed", now=ctx.now())
    users.create_user(ctx, "eddie@example.org", role="editor", password=PASSWORD)
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as client:
        sign_in(client, "eddie@example.org", PASSWORD)
        client.list_id = list_id
        client.ids = ids
        yield client


def shown(client, **query: str) -> list[str]:
    page = client.get(f"/admin/lists/{client.list_id}", params=query)
    assert page.status_code == 200, page.text
    return re.findall(r'<a href="/admin/contacts/\d+">([^<]+)</a>', page.text)


def test_filter_by_consent_state_agrees_with_each_contacts_own_state(ctx, browsing):
    for purpose in ctx.purposes.names():
        for state in ("granted", "refused", "never_asked"):
            expected = [
                c.email
                for c in contact_service.contacts_page(ctx, browsing.list_id, limit=100)
                if contact_service.consent_states(ctx, c)[purpose] == state
            ]
            assert shown(browsing, purpose=purpose, state=state) == expected, (purpose, state)
    # the filter is not vacuous: every state of open tracking has someone in this list
    for state in ("refused", "never_asked"):
        assert shown(browsing, purpose="open_tracking", state=state), state
    assert shown(browsing, purpose="open_tracking", state="granted") == [
        "person0@example.org",
        "person4@example.org",
    ]


def test_filter_by_status_and_search_together(browsing):
    assert shown(browsing, status="unsubscribed") == ["person4@example.org"]
    assert shown(browsing, status="subscribed", q="person5") == ["person5@example.org"]
    assert len(shown(browsing, status="subscribed")) == 5


def test_a_filter_that_is_not_one_is_named(browsing):
    page = browsing.get(f"/admin/lists/{browsing.list_id}", params={"state": "maybe"})
    assert page.status_code == 400 and "unknown consent state" in page.text
    page = browsing.get(f"/admin/lists/{browsing.list_id}", params={"state": "granted"})
    assert page.status_code == 400 and "choose the purpose" in page.text


def test_lists_are_renamed_archived_and_restored(ctx, browsing):
    from clearpixel.audience import lists as list_service

    token = csrf_of(browsing.get("/admin/lists").text)
    lid = browsing.list_id
    browsing.post(f"/admin/lists/{lid}/rename", data={"csrf": token, "name": "members"})
    assert [x.name for x in list_service.all_lists(ctx)] == ["members"]
    list_service.create_list(ctx, "other")
    taken = browsing.post(f"/admin/lists/{lid}/rename", data={"csrf": token, "name": "other"})
    assert taken.status_code == 400 and "already exists" in taken.text
    browsing.post(f"/admin/lists/{lid}/archive", data={"csrf": token, "action": "archive"})
    assert f'<option value="{lid}"' not in browsing.get("/admin/campaigns/new").text
    assert f'<option value="{lid}"' not in browsing.get("/admin/import").text
    assert len(shown(browsing)) == 6  # its contacts are kept
    browsing.post(f"/admin/lists/{lid}/archive", data={"csrf": token, "action": "restore"})
    assert f'<option value="{lid}"' in browsing.get("/admin/import").text
