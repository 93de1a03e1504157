"""An installation attacked from outside: a real server on a loopback port (trusting the
loopback proxy, so a test can speak from any client address with `X-Forwarded-For`), users of
every role, two lists with contacts whose attributes could leak, and API keys of every role,
scope and list limit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx2
import pytest

from clearpixel.accounts import api_keys, users
from clearpixel.context import Context
from clearpixel.store.contacts import insert_contacts
from clearpixel.web.server import ThreadedServer
from tests.helpers import make_list

PASSWORDS = {
    "admin": "an admin passphrase",
    "ed@example.org": "an editor passphrase",
    "aud@example.org": "an auditor passphrase",
    "gone@example.org": "a disabled passphrase",
}
SECRET_ATTRIBUTE = "private-attribute-7f3a"  # must never reach an auditor


@dataclass
class Installation:
    url: str
    lists: dict[str, int]
    contacts: dict[str, int]
    keys: dict[str, str] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def installation(ctx: Context) -> Iterator[Installation]:
    users.ensure_admin(ctx, password=PASSWORDS["admin"])
    user_ids = {}
    for email, role in (
        ("ed@example.org", "editor"),
        ("aud@example.org", "auditor"),
        ("gone@example.org", "editor"),
    ):
        user_ids[email] = users.create_user(ctx, email, role=role, password=PASSWORDS[email]).id
    lists = {"news": make_list(ctx, "news"), "other": make_list(ctx, "other")}
    rows = [
        {"list_id": lists["news"], "email": "ann@example.org", "attributes": {}},
        {"list_id": lists["other"], "email": "olga@example.org", "attributes": {}},
    ]
    for row in rows:
        row["attributes"] = {"note": SECRET_ATTRIBUTE}
    with ctx.db.begin() as tx:
        ann, olga = insert_contacts(tx, rows, now=ctx.now())
    keys = {}
    for role in ("admin", "editor", "auditor"):
        keys[role] = api_keys.create_api_key(ctx, role, scope="full", role=role)[1]
    keys["other-only"] = api_keys.create_api_key(
        ctx, "other-only", scope="full", role="admin", list_name="other"
    )[1]
    keys["signup"] = api_keys.create_api_key(
        ctx, "signup", scope="signup", role="admin", list_name="other"
    )[1]
    with ThreadedServer(ctx, trust_loopback_proxy=True) as server:
        yield Installation(server.url, lists, {"ann": ann, "olga": olga}, keys, user_ids)


OPEN: list[httpx2.Client] = []


@pytest.fixture(autouse=True)
def _close_browsers() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


class Browser:
    """A browser of the admin: its own cookies, at its own client address (closed after
    the test)."""

    def __init__(self, url: str, ip: str = "198.51.100.10") -> None:
        self.http = httpx2.Client(base_url=url, headers={"X-Forwarded-For": ip}, timeout=30)
        OPEN.append(self.http)
        self._csrf = ""

    def sign_in(self, username: str, password: str | None = None) -> httpx2.Response:
        page = self.http.get("/admin/login")
        return self.http.post(
            "/admin/login",
            data={
                "username": username,
                "password": PASSWORDS.get(username, "") if password is None else password,
                "csrf": csrf_of(page.text),
            },
        )

    def csrf(self) -> str:
        """A form token of this browser's session, from a page it may open (kept: a token
        serves many forms of its session for a day)."""
        if not self._csrf:
            self._csrf = csrf_of(self.http.get("/admin/account").text)
        return self._csrf

    def post(self, path: str, data: dict[str, str] | None = None, **kw: object) -> httpx2.Response:
        return self.http.post(path, data={"csrf": self.csrf(), **(data or {})}, **kw)  # type: ignore[arg-type]

    def get(self, path: str) -> httpx2.Response:
        return self.http.get(path)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def signed_in(installation: Installation, username: str, ip: str = "198.51.100.10") -> Browser:
    browser = Browser(installation.url, ip)
    answer = browser.sign_in(username)
    assert answer.status_code == 303, answer.text[:500]
    return browser
