"""HTTP helpers for the tracking tests: raw requests (exact paths, no redirect following)."""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

NO_STORE = "no-store, no-cache, must-revalidate, private, max-age=0"


def request(
    base_url: str, path: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection; returns (status, lower-cased headers, body)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def eventually(check: Callable[[], T], *, timeout: float = 15.0) -> T:
    """Poll `check` until it returns a truthy value (ingest runs behind the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)
