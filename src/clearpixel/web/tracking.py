"""Pixel and click endpoints (`/o/{token}.gif`, `/o/a/{public_id}.gif`, `/c/{token}`) as a
raw ASGI handler in front of the framework: the fastest path the stack allows.

The pixel answers 200 with the same precomputed 43-byte transparent GIF and no-store headers
whatever happens — bad token, unknown campaign, database down, buffer full, any exception
(R12). A click redirects (302) only to the URL registered for the signed (campaign, link)
pair; anything else gets a plain 404 page, never a redirect (R13). HEAD answers the same
headers and records nothing. Neither touches the database on the request path (a click on a
link not yet cached costs one bounded read: see ingest/links.py).
"""

from __future__ import annotations

import logging

from starlette.types import Receive, Scope, Send

from clearpixel.domain.urls import ANONYMOUS_PIXEL_PREFIX, CLICK_PREFIX, PIXEL_PREFIX
from clearpixel.ingest.links import LinkUnavailable
from clearpixel.ingest.tracker import Tracker

log = logging.getLogger("clearpixel.web.tracking")

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NO_STORE = b"no-store, no-cache, must-revalidate, private, max-age=0"
PIXEL_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"image/gif"),
        (b"content-length", str(len(GIF)).encode()),
        (b"cache-control", NO_STORE),
        (b"pragma", b"no-cache"),
        (b"expires", b"0"),
    ],
}
PIXEL_BODY = {"type": "http.response.body", "body": GIF}
EMPTY_BODY = {"type": "http.response.body", "body": b""}
NOT_FOUND_HTML = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Link not found</title>"
    b"<h1>Link not found</h1><p>This link is not known. Nothing was opened.</p></html>"
)
UNAVAILABLE_HTML = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Try again</title>"
    b"<h1>Temporarily unavailable</h1><p>Please try the link again in a moment.</p></html>"
)
GIF_SUFFIX = ".gif"


def _page(
    status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> dict[str, object]:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", NO_STORE),
            *(extra or []),
        ],
    }


class TrackingEndpoints:
    """Answers tracking hits without touching the database on the request path."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    def handles(self, path: str) -> bool:
        return path.startswith(PIXEL_PREFIX) or path.startswith(CLICK_PREFIX)

    async def start(self) -> None:
        """Start the ingest buffer and load the registered links."""
        await self.tracker.start()

    async def stop(self) -> None:
        """Flush and stop the ingest buffer."""
        await self.tracker.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path.startswith(CLICK_PREFIX):
            await self._click(scope, send)
            return
        method = scope["method"]
        if method == "GET":
            try:
                self._record_pixel(scope, path)
            except Exception:  # R12: whatever happens, the GIF
                log.exception("pixel hit not recorded")
        await send(PIXEL_START)
        await send(EMPTY_BODY if method == "HEAD" else PIXEL_BODY)

    def _record_pixel(self, scope: Scope, path: str) -> None:
        ip, user_agent = _requester(scope)
        if not path.endswith(GIF_SUFFIX):
            self.tracker.pixel("", ip, user_agent, scope["headers"])
        elif path.startswith(ANONYMOUS_PIXEL_PREFIX):
            public_id = path[len(ANONYMOUS_PIXEL_PREFIX) : -len(GIF_SUFFIX)]
            self.tracker.anonymous_pixel(public_id, ip, user_agent, scope["headers"])
        else:
            token = path[len(PIXEL_PREFIX) : -len(GIF_SUFFIX)]
            self.tracker.pixel(token, ip, user_agent, scope["headers"])

    async def _click(self, scope: Scope, send: Send) -> None:
        method = scope["method"]
        location: str | None = None
        unavailable = False
        if method in ("GET", "HEAD"):
            ip, user_agent = _requester(scope)
            token = scope["path"][len(CLICK_PREFIX) :]
            try:
                location = await self.tracker.click(
                    token, ip, user_agent, scope["headers"], record=method == "GET"
                )
            except LinkUnavailable:
                unavailable = True
            except Exception:
                log.exception("click not resolved")
        if location is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 302,
                    "headers": [
                        (b"location", location.encode("ascii")),
                        (b"cache-control", NO_STORE),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send(EMPTY_BODY)
            return
        if unavailable:
            await send(_page(503, UNAVAILABLE_HTML, [(b"retry-after", b"5")]))
            body = UNAVAILABLE_HTML
        else:
            await send(_page(404, NOT_FOUND_HTML))
            body = NOT_FOUND_HTML
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def _requester(scope: Scope) -> tuple[str, str]:
    client = scope.get("client")
    ip = client[0] if client else ""
    for name, value in scope["headers"]:
        if name == b"user-agent":
            return ip, value.decode("latin-1")
    return ip, ""
