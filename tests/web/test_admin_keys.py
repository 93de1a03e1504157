"""API keys from the admin: an admin creates a key with a role (its secret shown once, only
its hash stored), the key answers by its role, and a revoked key is refused; an editor
cannot reach the page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.helpers import make_list
from tests.web import admin_session
from tests.web.admin_session import csrf_of

PASSWORD = "keys passphrase"


def signed_in(ctx, email: str, role: str) -> TestClient:
    return admin_session.signed_in(ctx, email, PASSWORD, role=role)


def test_an_admin_creates_and_revokes_a_key_that_answers_by_its_role(ctx):
    list_id = make_list(ctx)
    admin = signed_in(ctx, "ada@example.org", "admin")
    token = csrf_of(admin.get("/admin/apikeys").text)
    bad = admin.post("/admin/apikeys", data={"csrf": token, "name": "", "role": "auditor"})
    assert bad.status_code == 400 and "no key was created" in bad.text
    made = admin.post("/admin/apikeys", data={"csrf": token, "name": "dpo", "role": "auditor"})
    secret = re.search(r'<code id="key-secret">(cpk_[^<]+)</code>', made.text).group(1)
    assert secret not in admin.get("/admin/apikeys").text  # shown once
    auth = {"Authorization": f"Bearer {secret}"}
    assert admin.get("/api/v1/ledger", headers=auth).status_code == 200
    assert admin.get(f"/api/v1/lists/{list_id}/contacts", headers=auth).status_code == 403
    key_id = re.search(r'action="/admin/apikeys/(\d+)/revoke"', made.text).group(1)
    admin.post(f"/admin/apikeys/{key_id}/revoke", data={"csrf": token})
    assert admin.get("/api/v1/ledger", headers=auth).status_code == 401
    editor = signed_in(ctx, "eddie@example.org", "editor")
    assert editor.get("/admin/apikeys").status_code == 403
    editor.__exit__(None, None, None)
    admin.__exit__(None, None, None)
