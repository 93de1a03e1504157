"""A NATS server with JetStream of a test's own, on a free port with its own store folder,
for tests that stop and start it: the shared one on 127.0.0.1:4222 is never stopped."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

NATS_SERVER = "/usr/sbin/nats-server"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateNats:
    """`with PrivateNats(folder) as server:` runs at `server.url`; `stop()` and `start()`
    take it away and bring it back on the same port with the same store."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.store = folder / "nats-store"
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nats-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def __enter__(self) -> PrivateNats:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
