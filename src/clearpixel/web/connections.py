"""The HTTP protocol under uvicorn, with the limits an internet-facing server needs and
uvicorn's own protocol lacks: a bounded request head, and time limits on receiving requests.

uvicorn (httptools) accepts a request head of any size (a 1 MB user agent went through) and
arms its keep-alive timer only after a response: a connection that opens and sends nothing,
or trickles its head a byte at a time, stays open for ever. Here:

- the request line and headers may take at most `MAX_HEAD_BYTES`; beyond, 431 and close
  (counted as the bytes arrive, so an endless header is refused before it is buffered);
- a connection must deliver a complete request head within `HEAD_TIMEOUT` seconds of opening
  (or of the first byte after its previous response), else it is closed;
- a request body must arrive within `BODY_TIMEOUT` seconds plus one second per
  `BODY_MIN_RATE` bytes it announces, else the connection is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 32 * 1024
HEAD_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0
BODY_MIN_RATE = 128 * 1024

_TOO_LARGE = b"Request header fields too large.\n"
_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: " + str(len(_TOO_LARGE)).encode() + b"\r\nconnection: close\r\n\r\n"
) + _TOO_LARGE


class _HeadTooLarge(Exception):
    pass


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded request head and request timeouts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._received = 0  # bytes of the current head received so far
        self._head = 0  # bytes of the current head parsed so far
        self._head_too_large = False
        self._deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse_head(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(_431)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(HEAD_TIMEOUT)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._in_head:
            if self._deadline is None:
                self._arm(HEAD_TIMEOUT)  # the next request on a kept-alive connection
            self._received += len(data)
        super().data_received(data)
        if self._in_head and self._received > MAX_HEAD_BYTES:
            self._refuse_head()  # all of it is head: nothing of a body arrives before it ends

    def _count(self, size: int) -> None:
        self._head += size
        if self._head > MAX_HEAD_BYTES:
            self._head_too_large = True
            raise _HeadTooLarge  # the parser stops; uvicorn answers through send_400_response

    def send_400_response(self, msg: str) -> None:
        if self._head_too_large:
            self._refuse_head()
        else:
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        self._head = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._received = 0
        announced = 0
        for name, value in self.headers:
            if name == b"content-length" and value.isdigit():
                announced = int(value)
        self._arm(BODY_TIMEOUT + announced / BODY_MIN_RATE)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._in_head = True
        super().on_response_complete()
