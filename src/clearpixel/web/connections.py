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

A deadline is a number on the connection, checked by one sweep of the server's connections
every `SWEEP_EVERY` seconds: no timer is armed per request, so the pixel path pays almost
nothing for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 32 * 1024
HEAD_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0
BODY_MIN_RATE = 128 * 1024
SWEEP_EVERY = 0.5

_TOO_LARGE = b"Request header fields too large.\n"
TOO_LARGE_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: " + str(len(_TOO_LARGE)).encode() + b"\r\nconnection: close\r\n\r\n"
) + _TOO_LARGE


class _HeadTooLarge(Exception):
    pass


async def _sweep(connections: Iterable[object], loop: asyncio.AbstractEventLoop) -> None:
    """Close every guarded connection past its deadline, for as long as the server runs."""
    while True:
        await asyncio.sleep(SWEEP_EVERY)
        now = loop.time()
        for connection in list(connections):
            if isinstance(connection, GuardedHttpProtocol) and 0 < connection.deadline < now:
                connection.too_slow()


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded request head and request deadlines."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._received = 0  # bytes of the current head received so far
        self._head_too_large = False
        self.deadline = 0.0  # loop time by which the current head or body must be in; 0: none

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.deadline = self.loop.time() + HEAD_TIMEOUT
        state = self.server_state
        if getattr(state, "clearpixel_sweeper", None) is None:
            sweeper = self.loop.create_task(_sweep(self.connections, self.loop))
            state.clearpixel_sweeper = sweeper  # type: ignore[attr-defined]

    def too_slow(self) -> None:
        """The deadline passed: close the connection (a request in progress sees the client
        leave)."""
        self.deadline = 0.0
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse_head(self) -> None:
        self.deadline = 0.0
        if not self.transport.is_closing():
            self.transport.write(TOO_LARGE_431)
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._in_head:
            if not self.deadline:
                self.deadline = self.loop.time() + HEAD_TIMEOUT  # the next request
            self._received += len(data)
        super().data_received(data)
        if self._in_head and self._received > MAX_HEAD_BYTES:
            self._refuse_head()  # all of it is head: nothing of a body arrives before it ends

    def send_400_response(self, msg: str) -> None:
        if self._head_too_large:
            self._refuse_head()
        else:
            super().send_400_response(msg)

    def on_headers_complete(self) -> None:
        size = len(self.url)
        announced = 0
        for name, value in self.headers:
            size += len(name) + len(value) + 4
            if name == b"content-length" and value.isdigit():
                announced = int(value)
        if size > MAX_HEAD_BYTES:  # a head that arrived whole in one read
            self._head_too_large = True
            raise _HeadTooLarge  # the parser stops; uvicorn answers via send_400_response
        self._in_head = False
        self._received = 0
        self.deadline = self.loop.time() + BODY_TIMEOUT + announced / BODY_MIN_RATE
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.deadline = 0.0
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._in_head = True
        super().on_response_complete()


__all__ = ["GuardedHttpProtocol"]
