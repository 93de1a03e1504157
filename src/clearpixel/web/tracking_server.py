"""The HTTP server of a tracking node (`clearpixel serve --role tracking`): the protocol of
web/tracking_http.py on uvloop, with no ASGI server and no framework.

Why not uvicorn: on one core, uvicorn with an ASGI app that only returns the GIF stays near a
quarter of nginx `empty_gif` (about 38 µs of CPU per request), below the tracking goal before
any hit is verified; the ASGI messages, the task per request and the header lists cost more
than verifying and classifying the hit. Parsing with httptools and answering in
`data_received` costs a few microseconds beside the kernel's own (bench/README.md, "Serving
the tracking role"). granian (Rust) serves a plain ASGI GIF faster than uvicorn, but the node
as an ASGI app under it costs more CPU per hit than this server and would add a runtime of its
own for the same answers.

Startup: the tracker starts (buffer, links loaded from the bucket) before the port is bound.
SIGTERM or SIGINT: stop listening, close idle connections, let the requests in progress finish
(at most `DRAIN_TIMEOUT` seconds), then flush the buffer — every batch published, or spilled
while NATS does not take it — and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from typing import Any

from clearpixel.web import connections as limits
from clearpixel.web.tracking_http import Shared, TrackingProtocol
from clearpixel.web.tracking_node import TrackingNode

log = logging.getLogger("clearpixel.web.tracking")

DRAIN_TIMEOUT = 30.0  # seconds a graceful stop waits for the requests in progress


class TrackingServer:
    """Serves a TrackingNode on host:port until SIGTERM/SIGINT (or `should_exit`), on uvloop.

    `run()` blocks; `started` turns true once it listens. In a thread (tests) pass
    `handle_signals=False` and set `should_exit` to stop; the stop is graceful either way."""

    def __init__(
        self,
        node: TrackingNode,
        *,
        host: str,
        port: int,
        sock: socket.socket | None = None,
        handle_signals: bool = True,
    ) -> None:
        self.node = node
        self.host = host
        self.port = port
        self.sock = sock
        self.handle_signals = handle_signals
        self.started = False
        self.should_exit = False
        self.exit_code = 0

    def run(self) -> int:
        """Serve until told to stop; returns the exit code (3: the node did not start, 1: the
        port cannot be listened on)."""
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(self.serve())
        return self.exit_code

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self.node.tracking.start()
        except Exception:
            log.exception("tracking node did not start")
            self.exit_code = 3
            return
        shared = Shared(self.node, loop)
        stop = asyncio.Event()
        if self.handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        kwargs: dict[str, Any] = (
            {"sock": self.sock}
            if self.sock
            else {
                "host": self.host,
                "port": self.port,
                "reuse_address": True,
            }
        )
        try:
            server = await loop.create_server(
                lambda: TrackingProtocol(shared), backlog=2048, **kwargs
            )
        except OSError as exc:
            log.error("cannot listen on %s:%s: %s", self.host, self.port, exc)
            self.exit_code = 1
            await self.node.tracking.stop()
            return
        self.started = True
        sweeper = asyncio.create_task(self._sweep(shared, stop))
        try:
            await stop.wait()
        finally:
            await self._drain(server, shared)
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await self.node.tracking.stop()  # the last batches published, or spilled

    async def _sweep(self, shared: Shared, stop: asyncio.Event) -> None:
        """Renew the date, close connections past their deadline, notice `should_exit`."""
        second = int(time.time())
        next_sweep = shared.loop.time() + limits.SWEEP_EVERY
        while True:
            await asyncio.sleep(0.1)
            if self.should_exit:
                stop.set()
            if int(time.time()) != second:
                second = int(time.time())
                shared.renew_date()
            now = shared.loop.time()
            if now >= next_sweep:
                next_sweep = now + limits.SWEEP_EVERY
                for connection in list(shared.connections):
                    if 0 < connection.deadline < now:
                        connection._close()

    async def _drain(self, server: asyncio.Server, shared: Shared) -> None:
        """Stop listening, close idle connections, let requests in progress finish."""
        shared.stopping = True
        server.close()
        until = time.monotonic() + DRAIN_TIMEOUT
        while shared.connections and time.monotonic() < until:
            for connection in list(shared.connections):
                if connection.between_requests():
                    connection._close()
            await asyncio.sleep(0.02)
        for connection in list(shared.connections):
            connection._close()
