"""Signing in to the admin over the app's own HTTP, as a browser does: read the login form's
CSRF token, then post the form. Shared by the admin tests that use a TestClient."""

from __future__ import annotations

import re

import httpx2
from fastapi.testclient import TestClient

from clearpixel.accounts import users
from clearpixel.context import Context
from clearpixel.web.app import create_app

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_ENTERED: list[TestClient] = []  # clients `signed_in` entered, left by `leave_signed_in`


def csrf_of(html: str) -> str:
    """The CSRF token of the (first) form of a page."""
    match = CSRF.search(html)
    assert match, html
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str) -> httpx2.Response:
    """Post the login form with the token its page carries; the answer, not followed."""
    page = client.get("/admin/login")
    return client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )


def signed_in(ctx: Context, email: str, password: str, *, role: str | None = None) -> TestClient:
    """A client of a new app on `ctx`, signed in as `email` (created first with `role` when
    one is given). The client is entered (the app's lifespan runs); the `ctx` fixture leaves
    it when the test ends (`leave_signed_in`)."""
    if role is not None:
        users.create_user(ctx, email, role=role, password=password)
    client = TestClient(create_app(ctx), base_url="http://127.0.0.1")
    client.__enter__()
    _ENTERED.append(client)
    answer = sign_in(client, email, password)
    assert answer.status_code == 303, answer.text
    return client


def leave_signed_in() -> None:
    """End every client `signed_in` entered: its app's lifespan ends (periodic tasks, the
    webhook worker), so nothing of the test runs on into the next one."""
    while _ENTERED:
        _ENTERED.pop().__exit__(None, None, None)
