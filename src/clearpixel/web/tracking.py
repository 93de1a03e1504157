"""Pixel and click endpoints (`/o/{token}.gif`, `/o/a/{public_id}.gif`, `/c/{token}`) as a
raw ASGI handler in front of the framework of the whole app; a tracking node answers the same
from its own HTTP server (web/tracking_server.py) with the same functions and answers.

The pixel answers 200 with the same precomputed 43-byte transparent GIF and no-store headers
whatever happens — bad token, unknown campaign, database down, buffer full, any exception
(R12). A click redirects (302) only to the URL registered for the signed (campaign, link)
pair; anything else gets a plain 404 page, never a redirect (R13). HEAD answers the same
headers and records nothing. Neither touches the database on the request path (a click on a
link not yet cached costs one bounded read: see ingest/links.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import NamedTuple

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
PIXEL_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"content-length", str(len(GIF)).encode()),
    (b"cache-control", NO_STORE),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
]
PIXEL_START = {"type": "http.response.start", "status": 200, "headers": PIXEL_HEADERS}
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


class Answer(NamedTuple):
    """A whole response: status, headers, body (sent without the body to HEAD)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def _page(status: int, body: bytes, *extra: tuple[bytes, bytes]) -> Answer:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", NO_STORE),
        *extra,
    ]
    return Answer(status, headers, body)


NOT_FOUND = _page(404, NOT_FOUND_HTML)
UNAVAILABLE = _page(503, UNAVAILABLE_HTML, (b"retry-after", b"5"))


def record_pixel(
    tracker: Tracker, path: str, ip: str, user_agent: str, headers: Iterable[tuple[bytes, bytes]]
) -> None:
    """Record a GET of a pixel path (`/o/{token}.gif` or `/o/a/{public_id}.gif`); what is not
    a pixel URL is counted as a bad token. May raise: the caller answers the GIF anyway."""
    if not path.endswith(GIF_SUFFIX):
        tracker.pixel("", ip, user_agent, headers)
    elif path.startswith(ANONYMOUS_PIXEL_PREFIX):
        public_id = path[len(ANONYMOUS_PIXEL_PREFIX) : -len(GIF_SUFFIX)]
        tracker.anonymous_pixel(public_id, ip, user_agent, headers)
    else:
        token = path[len(PIXEL_PREFIX) : -len(GIF_SUFFIX)]
        tracker.pixel(token, ip, user_agent, headers)


async def click_answer(
    tracker: Tracker,
    path: str,
    method: str,
    ip: str,
    user_agent: str,
    headers: Iterable[tuple[bytes, bytes]],
) -> Answer:
    """The answer to a request of a click path: 302 to the registered URL (a GET is
    recorded, a HEAD is not), 503 "try again" when the link cannot be read now, else 404."""
    if method not in ("GET", "HEAD"):
        return NOT_FOUND
    token = path[len(CLICK_PREFIX) :]
    try:
        location = await tracker.click(token, ip, user_agent, headers, record=method == "GET")
    except LinkUnavailable:
        return UNAVAILABLE
    except Exception:
        log.exception("click not resolved")
        return NOT_FOUND
    if location is None:
        return NOT_FOUND
    redirect = [
        (b"location", location.encode("ascii")),
        (b"cache-control", NO_STORE),
        (b"content-length", b"0"),
    ]
    return Answer(302, redirect, b"")


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
        method = scope["method"]
        if path.startswith(CLICK_PREFIX):
            ip, user_agent = _requester(scope)
            answer = await click_answer(
                self.tracker, path, method, ip, user_agent, scope["headers"]
            )
            await send(
                {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
            )
            body = b"" if method == "HEAD" else answer.body
            await send({"type": "http.response.body", "body": body})
            return
        if method == "GET":
            try:
                ip, user_agent = _requester(scope)
                record_pixel(self.tracker, path, ip, user_agent, scope["headers"])
            except Exception:  # R12: whatever happens, the GIF
                log.exception("pixel hit not recorded")
        await send(PIXEL_START)
        await send(EMPTY_BODY if method == "HEAD" else PIXEL_BODY)


def _requester(scope: Scope) -> tuple[str, str]:
    client = scope.get("client")
    ip = client[0] if client else ""
    for name, value in scope["headers"]:
        if name == b"user-agent":
            return ip, value.decode("latin-1")
    return ip, ""
