"""Erasing a person from the contact page: admins only, with a reason and the address typed
again; the erasure service removes the person from every list and the ledger's actor names
the admin; an editor meets 403 and nothing is erased."""

from __future__ import annotations

from fastapi.testclient import TestClient

from clearpixel.audience import contacts as contact_service
from clearpixel.audience import lists as list_service
from clearpixel.store.ledger import entries_for_contact
from tests.web import admin_session
from tests.web.admin_session import csrf_of

PASSWORD = "erase passphrase"


def signed_in(ctx, email: str, role: str) -> TestClient:
    return admin_session.signed_in(ctx, email, PASSWORD, role=role)


def test_an_admin_erases_a_person_from_every_list_with_a_reason(ctx):
    first = list_service.create_list(ctx, "members").id
    second = list_service.create_list(ctx, "events").id
    ann = contact_service.create_contact(ctx, first, "ann@example.org", {"city": "Lyon"})
    contact_service.create_contact(ctx, second, "ann@example.org", {"city": "Lyon"})
    keep = contact_service.create_contact(ctx, first, "bob@example.org")
    editor = signed_in(ctx, "eddie@example.org", "editor")
    page = editor.get(f"/admin/contacts/{ann.id}")
    assert 'id="erase"' not in page.text
    refused = editor.post(
        f"/admin/contacts/{ann.id}/erase",
        data={"csrf": csrf_of(page.text), "reason": "asked", "confirm": "ann@example.org"},
    )
    assert refused.status_code == 403
    admin = signed_in(ctx, "ada@example.org", "admin")
    page = admin.get(f"/admin/contacts/{ann.id}")
    token = csrf_of(page.text)
    mistyped = admin.post(
        f"/admin/contacts/{ann.id}/erase",
        data={"csrf": token, "reason": "asked by letter", "confirm": "bob@example.org"},
    )
    assert mistyped.status_code == 400 and "nothing was erased" in mistyped.text
    assert contact_service.count_contacts(ctx, first) == 2
    erased = admin.post(
        f"/admin/contacts/{ann.id}/erase",
        data={"csrf": token, "reason": "asked by letter", "confirm": "ann@example.org"},
    )
    assert erased.status_code == 200 and "erased from 2 list(s)" in erased.text
    assert contact_service.count_contacts(ctx, first) == 1
    assert contact_service.count_contacts(ctx, second) == 0
    assert contact_service.get_contact(ctx, keep.id).email == "bob@example.org"
    with ctx.db.connect() as conn:
        (entry,) = entries_for_contact(conn, ann.id)
    assert entry.actor == "admin:ada@example.org"
    editor.__exit__(None, None, None)
    admin.__exit__(None, None, None)
