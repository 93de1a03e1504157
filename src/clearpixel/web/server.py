"""The whole web app under uvicorn on a free loopback port, in a thread: what the demo drives
its simulated recipients against, and what the tests serve over real HTTP."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from clearpixel.context import Context
from clearpixel.web.app import create_app


class ThreadedServer:
    """`with ThreadedServer(ctx) as server:` serves at `server.url` until the block ends;
    leaving runs the app's shutdown, which flushes the hit buffer."""

    def __init__(self, ctx: Context, *, trust_loopback_proxy: bool = False) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(ctx),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
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
