"""The whole web app under uvicorn: `server_config` (what `clearpixel serve` runs: the guarded
HTTP protocol of web/connections.py), and `ThreadedServer`, the same on a free loopback port
in a thread: what the demo drives its simulated recipients against, and what the tests serve
over real HTTP. A tracking node is served by its own server (web/tracking_server.py), in a
thread as in `serve --role tracking`."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from clearpixel.context import Context
from clearpixel.ingest.sinks import BatchSink
from clearpixel.web.app import FrontDoor, create_app
from clearpixel.web.connections import GuardedHttpProtocol
from clearpixel.web.tracking_node import TrackingNode
from clearpixel.web.tracking_server import TrackingServer


def server_config(app: Any, *, host: str, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for the app: the guarded HTTP protocol (bounded request
    heads, request timeouts), a 5 s keep-alive, no access log."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=GuardedHttpProtocol,
        timeout_keep_alive=5,
        log_level="warning",
        access_log=False,
        **options,
    )


class ThreadedServer:
    """`with ThreadedServer(ctx) as server:` serves at `server.url` until the block ends;
    leaving runs the app's shutdown, which flushes the hit buffer. Hits go to `sink`
    (default: ingested in the server's process); `app` serves another app (a tracking
    node) instead of the whole one."""

    def __init__(
        self,
        ctx: Context,
        *,
        sink: BatchSink | None = None,
        app: FrontDoor | TrackingNode | None = None,
        trust_loopback_proxy: bool = False,
    ) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        app = app if app is not None else create_app(ctx, sink=sink)
        self.sink = app.sink
        self.server: uvicorn.Server | TrackingServer
        if isinstance(app, TrackingNode):  # served as `serve --role tracking` serves it
            self.server = TrackingServer(
                app, host="127.0.0.1", port=self.port, handle_signals=False
            )
        else:
            config = server_config(
                app,
                host="127.0.0.1",
                port=self.port,
                lifespan="on",
                proxy_headers=trust_loopback_proxy,
                forwarded_allow_ips="127.0.0.1" if trust_loopback_proxy else None,
            )
            self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)
