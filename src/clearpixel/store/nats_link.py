"""The NATS connection of a process, and the key-value bucket of campaigns' registered links
that tracking nodes read instead of the database (docs/deployment.md). The hit stream itself
is the ingest layer's (ingest/jetstream.py); sending puts each campaign's links here before
its first message goes out.

One `NatsLink` per process holds the connection on an event loop of its own thread, so the
serving loop never runs NATS' protocol and blocking callers (the buffer's worker thread, the
CLI, a send) can wait for an answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KeyValue

from clearpixel.domain.errors import ClearpixelError

log = logging.getLogger("clearpixel.nats")
T = TypeVar("T")


class NatsUnavailable(ClearpixelError, RuntimeError):
    """NATS could not be reached or did not answer in time."""


class NatsLink:
    """One NATS connection on a loop of its own thread; connects on first use and again after
    a failed connect, while the client itself reconnects a connection it had."""

    def __init__(self, url: str, *, connect_timeout: float = 2.0) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats", daemon=True)
        self._thread.start()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._closing = False

    async def _disconnected(self) -> None:
        if not self._closing:
            log.warning("NATS at %s disconnected; reconnecting", self.url)

    async def jetstream(self) -> JetStreamContext:
        """The JetStream context of a live connection; raises NatsUnavailable."""
        if self._nc is None or self._nc.is_closed:
            try:
                self._nc = await nats.connect(
                    self.url,
                    connect_timeout=self.connect_timeout,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    error_cb=_quiet,
                    disconnected_cb=self._disconnected,
                )
            except Exception as exc:
                self._nc = None
                raise NatsUnavailable(f"NATS at {self.url} unreachable: {exc}") from exc
            self._js = self._nc.jetstream()
        if not self._nc.is_connected or self._js is None:
            raise NatsUnavailable(f"NATS at {self.url} is disconnected")
        return self._js

    def call(self, work: Callable[[], Awaitable[T]], *, timeout: float | None = 10.0) -> T:
        """Run `work()` on the NATS loop and wait for its result (blocking callers)."""
        future = asyncio.run_coroutine_threadsafe(_awaited(work), self._loop)
        try:
            return future.result(timeout)
        except TimeoutError as exc:
            future.cancel()
            raise NatsUnavailable(f"NATS at {self.url} did not answer in {timeout} s") from exc

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run `callback` on the NATS loop (from any thread, a signal handler included)."""
        self._loop.call_soon_threadsafe(callback)

    async def acall(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work()` on the NATS loop from another event loop."""
        future = asyncio.run_coroutine_threadsafe(_awaited(work), self._loop)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Close the connection (what was published is flushed first), finish every task
        of the loop, and stop its thread."""
        self._closing = True
        nc = self._nc

        async def shutdown() -> None:
            if nc is not None and not nc.is_closed:
                await nc.close()
            current = asyncio.current_task()
            tasks = [task for task in asyncio.all_tasks() if task is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.call(shutdown, timeout=10.0)
        except Exception as exc:  # closing anyway
            log.warning("NATS connection not closed cleanly: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5.0)
        if not self._thread.is_alive():
            self._loop.close()


async def _awaited(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


async def _quiet(exc: Exception) -> None:
    log.debug("NATS: %s", exc)


def links_key(campaign_id: int) -> str:
    return f"campaign.{campaign_id}"


async def links_bucket(link: NatsLink, name: str, *, create: bool = False) -> KeyValue:
    js = await link.jetstream()
    try:
        return await js.key_value(name)
    except BucketNotFoundError:
        if not create:
            raise
        return await js.create_key_value(bucket=name, history=1)


def links_of(value: bytes | None) -> dict[int, str]:
    """The links a bucket entry holds, by link id."""
    data: dict[str, str] = json.loads(value or b"{}")
    return {int(k): str(v) for k, v in data.items()}


def put_links(url: str, bucket: str, campaign_id: int, links: Mapping[int, str]) -> None:
    """Store a campaign's registered links in the bucket (created if missing), replacing
    what it held. Raises NatsUnavailable, naming the URL, when NATS cannot take them."""
    body = json.dumps({str(k): v for k, v in sorted(links.items())}).encode()
    link = NatsLink(url)

    async def work() -> None:
        kv = await links_bucket(link, bucket, create=True)
        await kv.put(links_key(campaign_id), body)

    try:
        link.call(work)
    except NatsUnavailable:
        raise
    except Exception as exc:
        raise NatsUnavailable(
            f"the links of campaign {campaign_id} could not be published to NATS at {url}: {exc}"
        ) from exc
    finally:
        link.close()
