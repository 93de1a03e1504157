"""Ids sent in form fields (the list of an upload or an import, the list of a draft, the
draft an edit replaces) may hold anything: none of them answers 500 or reaches the database
as a number it cannot hold."""

from __future__ import annotations

import pytest

from tests.security.conftest import signed_in

BAD = ["abc", "-1", "1.5", "99999999999999999999", "2147483648", "١"]
DRAFT = {"kind": "marketing", "subject": "s", "html": "<p>x</p>", "name": "n"}


@pytest.mark.parametrize("bad", BAD)
def test_a_malformed_id_in_a_form_is_refused_not_a_server_error(installation, bad):
    editor = signed_in(installation, "ed@example.org")
    news = str(installation.lists["news"])
    csv = ("people.csv", b"email\nzoe@example.org\n", "text/csv")
    answers = {
        "upload": editor.http.post(
            "/admin/import", data={"csrf": editor.csrf(), "list_id": bad}, files={"file": csv}
        ),
        "save": editor.post("/admin/campaigns/new", {**DRAFT, "list_id": bad}),
        "check": editor.post("/admin/campaigns/check", {**DRAFT, "list_id": bad}),
        "replaces": editor.post(
            "/admin/campaigns/new", {**DRAFT, "list_id": news, "replaces": bad}
        ),
    }
    page = editor.http.post(
        "/admin/import", data={"csrf": editor.csrf(), "list_id": news}, files={"file": csv}
    )
    token = page.text.split('action="/admin/import/')[1].split("/run")[0]
    answers["run"] = editor.post(f"/admin/import/{token}/run", {"list_id": bad})
    codes = {name: answer.status_code for name, answer in answers.items()}
    assert all(code < 500 for code in codes.values()), codes
    assert codes["upload"] == 400 and codes["run"] == 404 and codes["save"] == 400
    assert codes["check"] == 200 and answers["check"].json()["problems"]
    assert codes["replaces"] == 303  # the new draft is stored; no draft had that id
