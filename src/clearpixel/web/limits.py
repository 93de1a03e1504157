"""Requests bounded before they cost: the REST API checks the key before it reads a byte
of the body, and every body is capped by route before the framework buffers or spools it.

The framework reads (and, for multipart, spools to disk) a whole body before any dependency
runs, so a key check written as a dependency came too late: 256 MB of JSON without a key
cost +700 MB before the 401. `RequestLimits` sits in front of the framework:

- `/api/v1/...` (not its documentation) answers 401 unless the Authorization header holds an
  active key; the key's id is left in the request state for the routes;
- a body whose Content-Length exceeds the route's cap gets 413 at once; a body sent without
  one is counted as it streams and cut at the cap (the application sees the client leave,
  the client gets 413); both answers close the connection.
"""

from __future__ import annotations

import json
import re
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clearpixel.accounts import api_keys
from clearpixel.context import Context
from clearpixel.i18n import choose_locale, environment
from clearpixel.web.admin_base import LANG_COOKIE
from clearpixel.web.admin_base import SECURITY_HEADERS as PAGE_HEADERS

API_PREFIX = "/api/v1/"
API_OPEN = frozenset({"/api/v1/docs", "/api/v1/openapi.json", "/api/v1/docs/oauth2-redirect"})
API_DOCS_ASSETS = "/api/v1/docs/static/"  # Swagger UI's script, style and icon
STATE_KEY = "clearpixel_api_key_id"
MB = 1024 * 1024
ADMIN_TEMPLATES = Path(__file__).parent / "templates" / "admin"

# (method, path pattern, cap in bytes), first match wins; DEFAULT_CAP otherwise.
CAPS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    ("POST", re.compile(r"/api/v1/lists/\d+/contacts/import"), 200 * MB),
    ("POST", re.compile(r"/api/v1/campaigns"), 16 * MB),
    ("POST", re.compile(r"/admin/import"), 200 * MB),
    ("POST", re.compile(r"/admin/campaigns/(new|check)"), 16 * MB),
    ("POST", re.compile(r"/(subscribe|consent|preferences|unsubscribe)/.*"), 64 * 1024),
)
DEFAULT_CAP = 1 * MB


def body_cap(method: str, path: str) -> int:
    for wanted, pattern, cap in CAPS:
        if method == wanted and pattern.fullmatch(path):
            return cap
    return DEFAULT_CAP


def _json_error(status: int, code: str, message: str) -> tuple[Message, Message]:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    start = {"type": "http.response.start", "status": status, "headers": headers}
    return start, {"type": "http.response.body", "body": body}


class BodyTooLarge(Exception):
    pass


class RequestLimits:
    """ASGI middleware in front of the framework: API key first, then body caps."""

    def __init__(self, app: ASGIApp, ctx: Context) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if (
            path.startswith(API_PREFIX)
            and path not in API_OPEN
            and not path.startswith(API_DOCS_ASSETS)
        ):
            key_id = await run_in_threadpool(self._key_id, scope)
            if key_id is None:
                await self._answer(send, 401, "unauthorized", _key_message(scope))
                return
            scope.setdefault("state", {})[STATE_KEY] = key_id
        cap = body_cap(scope["method"], path)
        announced = _content_length(scope)
        if announced is not None and announced > cap:
            await self._too_large(scope, send, cap)
            return
        await self._capped(scope, receive, send, cap)

    async def _capped(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        received = 0
        exceeded = False
        started = False

        async def counted() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the application's answer to a client it thinks is gone
            started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._too_large(scope, send, cap)

    def _key_id(self, scope: Scope) -> int | None:
        presented = _bearer(scope)
        return api_keys.api_key_id(self.ctx, presented) if presented else None

    @staticmethod
    async def _answer(send: Send, status: int, code: str, message: str) -> None:
        start, body = _json_error(status, code, message)
        await send(start)
        await send(body)

    async def _too_large(self, scope: Scope, send: Send, cap: int) -> None:
        """413: a page in the reader's language under /admin (a browser sent it), else the
        API's JSON error."""
        if not scope["path"].startswith("/admin"):
            await self._answer(send, 413, "too_large", _too_large(cap))
            return
        try:
            cookies = SimpleCookie((_header(scope, b"cookie") or b"").decode("latin-1"))
            chosen = cookies[LANG_COOKIE].value if LANG_COOKIE in cookies else ""
        except CookieError:  # a cookie header no browser sends: the language of the page
            chosen = ""
        accept = (_header(scope, b"accept-language") or b"").decode("latin-1")
        locale = choose_locale(chosen, accept)
        page = environment(locale, str(ADMIN_TEMPLATES)).get_template("too_large.html")
        back = "/admin/import" if scope["path"] == "/admin/import" else "/admin"
        body = page.render(size=_size(cap), back=back).encode()
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *((k.lower().encode(), v.encode()) for k, v in PAGE_HEADERS.items()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _bearer(scope: Scope) -> str:
    value = (_header(scope, b"authorization") or b"").decode("latin-1")
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def _key_message(scope: Scope) -> str:
    if not _bearer(scope):
        return "an API key is required: Authorization: Bearer <key>"
    return "unknown or revoked API key"


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    return int(value) if value is not None and value.isdigit() else None


def _size(cap: int) -> str:
    return f"{cap // MB} MB" if cap >= MB else f"{cap // 1024} KB"


def _too_large(cap: int) -> str:
    return f"the request body is larger than {_size(cap)}, the most this address accepts"


def key_id_from(state: Any) -> int | None:
    """The API key id `RequestLimits` checked for this request, if it did."""
    value = getattr(state, STATE_KEY, None)
    return value if isinstance(value, int) else None
