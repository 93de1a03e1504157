"""The HTTP protocol of a tracking node (web/tracking_server.py runs it): one asyncio protocol
per connection that parses requests with httptools (the parser uvicorn uses) and answers the
four routes itself, with no ASGI layer between the socket and the tracker. A pixel is answered
inside `data_received`, from precomputed bytes; a click waits for its link (rarely read from
the bucket) while later pipelined requests wait behind it, so answers keep their order.

It keeps the whole app's limits (web/connections.py): a request head of at most
`MAX_HEAD_BYTES` (else 431 and close), complete within `HEAD_TIMEOUT` of its first byte; a
body (the routes take none) of at most `MAX_BODY_BYTES` (else 413) within `BODY_TIMEOUT` plus
its size over `BODY_MIN_RATE`; an idle keep-alive connection closed after `KEEP_ALIVE`
seconds. X-Forwarded-For is believed only from FORWARDED_ALLOW_IPS (default 127.0.0.1), as
uvicorn does. Deadlines are numbers on the connection; the server sweeps them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import deque
from collections.abc import Coroutine
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote

import httptools
from uvicorn.middleware.proxy_headers import _TrustedHosts

from clearpixel.domain.urls import CLICK_PREFIX, PIXEL_PREFIX
from clearpixel.ingest.classify import PREFETCH_NAMES
from clearpixel.web import connections as limits
from clearpixel.web.tracking import (
    GIF,
    PIXEL_HEADERS,
    Answer,
    click_answer,
    record_pixel,
)
from clearpixel.web.tracking_node import TrackingNode

log = logging.getLogger("clearpixel.web.tracking")

KEEP_ALIVE = 5.0  # seconds an idle keep-alive connection stays open (uvicorn's setting here)
MAX_BODY_BYTES = 64 * 1024  # the routes read no body
LINGER_SECONDS = 2.0  # after a refusal, how long what the client still sends is read and dropped
LINGER_BYTES = 1 << 20  # ... and how much of it at most
_REASONS = {
    200: b"OK",
    302: b"Found",
    400: b"Bad Request",
    404: b"Not Found",
    413: b"Content Too Large",
    503: b"Service Unavailable",
}
_TEXT = b"text/plain; charset=utf-8"
_400 = Answer(400, [(b"content-type", _TEXT)], b"Invalid HTTP request received.")
_413 = Answer(413, [(b"content-type", _TEXT)], b"Request body too large.\n")
_NOT_FOUND_TEXT = b"not found\n"


def _head(status: int, headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
    lines += [b"%s: %s\r\n" % pair for pair in headers]
    return b"".join(lines)


def _plain(status: int, content_type: bytes, body: bytes) -> Answer:
    """An answer of the node's own routes (/healthz, /metrics, 404), as TrackingNode sends."""
    headers = [
        (b"content-type", content_type),
        (b"content-length", b"%d" % len(body)),
        (b"cache-control", b"no-store"),
    ]
    return Answer(status, headers, body)


class Shared:
    """What every connection of one server reads: the node, the date header (renewed by the
    sweep), the trusted proxies, the open connections."""

    def __init__(self, node: TrackingNode, loop: asyncio.AbstractEventLoop) -> None:
        self.node = node
        self.tracker = node.tracking.tracker
        self.loop = loop
        self.trusted = _TrustedHosts(os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"))
        self.connections: set[TrackingProtocol] = set()
        self.stopping = False
        self.date = b""
        self.pixel_head = b""
        self.renew_date()

    def renew_date(self) -> None:
        self.date = b"date: " + formatdate(usegmt=True).encode() + b"\r\n"
        self.pixel_head = _head(200, PIXEL_HEADERS) + self.date

    def client_ip(self, peer: str, forwarded: list[bytes] | None) -> str:
        """The requester's address: X-Forwarded-For's client when a trusted proxy sent it."""
        if forwarded and peer in self.trusted:
            value = b", ".join(forwarded).decode("latin-1")
            host, _ = self.trusted.get_trusted_client_address(value)
            return host or peer
        return peer


class TrackingProtocol(asyncio.Protocol):
    """One client connection: requests parsed as they arrive, answered in order."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None
        self.peer = ""
        self.deadline = 0.0  # loop time by which the current head or body must be in; 0: none
        # answers held back behind a click being resolved, in request order
        self.waiting: deque[tuple[asyncio.Future[bytes] | bytes, bool]] = deque()
        self._reading_paused = False
        self._writing_paused = False
        self._between = True  # between requests: the next byte starts a head and its deadline
        self._in_head = True  # the bytes arriving belong to a request head
        self._raw_head = 0  # bytes received since that head began
        self._lingering = 0  # after a refusal: bytes still read and dropped before closing
        self._reset()

    def _reset(self) -> None:
        self._url: list[bytes] = []
        self._head_size = 0
        self._ua = b""
        self._forwarded: list[bytes] | None = None
        self._classified: list[tuple[bytes, bytes]] = []
        self._announced = 0
        self._body = 0
        self._refused = False

    # asyncio.Protocol

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        self.deadline = self.shared.loop.time() + limits.HEAD_TIMEOUT
        self._between = False
        self.shared.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.shared.connections.discard(self)
        for answer, _ in self.waiting:  # clicks still being resolved: nobody to answer
            if isinstance(answer, asyncio.Future):
                answer.cancel()
        self.waiting.clear()

    def pause_writing(self) -> None:
        self._writing_paused = True
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if not self._reading_paused:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            self._lingering = max(0, self._lingering - len(data))
            if not self._lingering:
                self._close()
            return
        if self._between:
            self._between = False
            self.deadline = self.shared.loop.time() + limits.HEAD_TIMEOUT
        if self._in_head:
            self._raw_head += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._close()  # answered already; the connection cannot go on as HTTP/1.1
        except httptools.HttpParserError:
            if not self._refused:
                self._refuse(_400)
        else:
            # httptools keeps a header until it ends: an endless one is refused as it grows
            if self._in_head and self._raw_head > limits.MAX_HEAD_BYTES:
                self._too_large()

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._reset()

    def on_url(self, url: bytes) -> None:
        self._url.append(url)
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        name = name.lower()
        if name == b"user-agent":
            self._ua = value
        elif name == b"x-forwarded-for":
            if self._forwarded is None:
                self._forwarded = []
            self._forwarded.append(value)
        elif name in PREFETCH_NAMES:  # the other headers the classifier reads
            self._classified.append((name, value))
        elif name == b"content-length" and value.isdigit():
            self._announced = int(value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._raw_head = 0
        if self._head_size > limits.MAX_HEAD_BYTES:  # a head that arrived whole
            self._too_large()
            raise httptools.HttpParserError("request head too large")
        if self._announced > MAX_BODY_BYTES:
            self._refuse(_413)
            raise httptools.HttpParserError("request body too large")
        self.deadline = (
            self.shared.loop.time() + limits.BODY_TIMEOUT + self._announced / limits.BODY_MIN_RATE
        )

    def on_body(self, body: bytes) -> None:
        self._body += len(body)
        if self._body > MAX_BODY_BYTES:
            self._refuse(_413)
            raise httptools.HttpParserError("request body too large")

    def on_message_complete(self) -> None:
        self._in_head = True
        shared = self.shared
        method = self.parser.get_method()
        keep = self.parser.should_keep_alive() and not shared.stopping
        url = b"".join(self._url)
        if not url.startswith(b"/"):  # absolute form (`GET http://host/o/...`), as uvicorn
            url = httptools.parse_url(url).path or b"/"
        path = url.split(b"?", 1)[0].decode("latin-1")
        if "%" in path:
            path = unquote(path)
        if path.startswith(PIXEL_PREFIX):
            if method == b"GET":
                try:
                    ip = shared.client_ip(self.peer, self._forwarded)
                    headers = [(b"user-agent", self._ua), *self._classified]
                    record_pixel(shared.tracker, path, ip, self._ua.decode("latin-1"), headers)
                except Exception:  # R12: whatever happens, the GIF
                    log.exception("pixel hit not recorded")
            head = shared.pixel_head if keep else shared.pixel_head + b"connection: close\r\n"
            self._send(head + (b"\r\n" if method == b"HEAD" else b"\r\n" + GIF), keep)
        elif path.startswith(CLICK_PREFIX):
            ip = shared.client_ip(self.peer, self._forwarded)
            headers = [(b"user-agent", self._ua), *self._classified]
            resolving = click_answer(
                shared.tracker,
                path,
                method.decode("latin-1"),
                ip,
                self._ua.decode("latin-1"),
                headers,
            )
            self._wait_for(resolving, method, keep)
        elif path == "/healthz":
            status, body = shared.node.health()
            answer = _plain(status, b"application/json", json.dumps(body).encode())
            self._send(self._render(answer, method, keep), keep)
        elif path == "/metrics":
            answer = _plain(200, b"text/plain; version=0.0.4", shared.node.metrics().encode())
            self._send(self._render(answer, method, keep), keep)
        else:
            self._send(self._render(_plain(404, _TEXT, _NOT_FOUND_TEXT), method, keep), keep)
        if keep:
            self._between = True
            self.deadline = shared.loop.time() + KEEP_ALIVE
        else:
            self.deadline = 0.0

    # answering

    def _render(self, answer: Answer, method: bytes, keep: bool) -> bytes:
        head = _head(answer.status, answer.headers) + self.shared.date
        if not keep:
            head += b"connection: close\r\n"
        return head + b"\r\n" + (b"" if method == b"HEAD" else answer.body)

    def _send(self, data: bytes, keep: bool) -> None:
        if self.waiting:  # a click before this request is still being resolved: keep order
            self.waiting.append((data, keep))
            return
        self.transport.write(data)
        if not keep:
            self._close()

    def _wait_for(self, answer: Coroutine[Any, Any, Answer], method: bytes, keep: bool) -> None:
        """Answer a click once it is resolved; later requests wait behind it, reading paused."""

        async def rendered() -> bytes:
            return self._render(await answer, method, keep)

        future = asyncio.ensure_future(rendered())
        self.waiting.append((future, keep))
        future.add_done_callback(self._flush)
        if not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def _flush(self, _: object = None) -> None:
        """Write the held-back answers that are ready, in order; read again when none waits."""
        while self.waiting:
            data, keep = self.waiting[0]
            if isinstance(data, asyncio.Future):
                if not data.done():
                    return
                if data.cancelled():
                    self.waiting.clear()
                    return
                data = data.result()
            self.waiting.popleft()
            if self.transport.is_closing():
                return
            self.transport.write(data)
            if not keep:
                self._close()
                return
        if self._reading_paused:
            self._reading_paused = False
            if not self._writing_paused:
                self.transport.resume_reading()

    def _refuse(self, answer: Answer) -> None:
        """Answer `answer` and close: the request cannot be read on."""
        self._refused = True
        body = answer.body
        headers = [*answer.headers, (b"content-length", b"%d" % len(body))]
        if not self.transport.is_closing():
            self.transport.write(
                _head(answer.status, headers) + b"connection: close\r\n\r\n" + body
            )
        self._linger()

    def _too_large(self) -> None:
        """431 and close: the request head is over `MAX_HEAD_BYTES`."""
        self._refused = True
        if not self.transport.is_closing():
            self.transport.write(limits.TOO_LARGE_431)
        self._linger()

    def _linger(self) -> None:
        """Close after a refusal, gently: end our side (the client reads the answer to its
        end), read and drop what the client still sends for up to LINGER_SECONDS or
        LINGER_BYTES, then close. Closing at once with unread bytes makes the kernel answer
        a reset, which can destroy the refusal before the client has read it."""
        transport = self.transport
        if transport.is_closing() or not transport.can_write_eof():
            self._close()
            return
        transport.write_eof()
        self._lingering = LINGER_BYTES
        self.deadline = self.shared.loop.time() + LINGER_SECONDS

    def _close(self) -> None:
        self.deadline = 0.0
        if not self.transport.is_closing():
            self.transport.close()

    def between_requests(self) -> bool:
        """Whether no request is in progress (a graceful stop may close it now)."""
        return self._between and not self.waiting
