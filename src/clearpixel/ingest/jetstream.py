"""NATS JetStream, for a scaled-out deployment (docs/deployment.md): the stream of hit
batches between tracking nodes and ingest workers, and the key-value bucket of campaigns'
registered links that tracking nodes read instead of the database.

One `NatsLink` per process holds the connection on an event loop of its own thread, so the
serving loop never runs NATS' protocol and blocking callers (the buffer's worker thread, the
CLI) can wait for an answer. The stream keeps batches for `CLEARPIXEL_NATS_RETENTION_HOURS`
(default 72: they hold contact ids and exact times, R20) and drops a batch id published twice
within its two-minute duplicate window, so a publish retried after a lost acknowledgement is
stored once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NoKeysError, NotFoundError
from nats.js.kv import KeyValue

from clearpixel.config import Settings
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.ingest.codec import encode
from clearpixel.ingest.links import DatabaseLinks
from clearpixel.ingest.pipeline import Batch
from clearpixel.ingest.sinks import DeliveringSink

log = logging.getLogger("clearpixel.nats")
T = TypeVar("T")
DUPLICATE_WINDOW = 120.0  # seconds: a batch id republished within this is stored once
PUBLISH_TIMEOUT = 5.0
MSG_ID = "Nats-Msg-Id"


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


async def ensure_stream(js: JetStreamContext, settings: Settings) -> None:
    """Create the hit stream, or bring its retention and subject in line with the settings."""
    config = StreamConfig(
        name=settings.nats_stream,
        subjects=[settings.nats_subject],
        storage=StorageType.FILE,
        max_age=settings.nats_retention_hours * 3600.0,
        duplicate_window=DUPLICATE_WINDOW,
    )
    try:
        await js.stream_info(settings.nats_stream)
    except NotFoundError:
        await js.add_stream(config)
        return
    await js.update_stream(config)


class Publisher:
    """Publishes batches to the hit stream and waits for each acknowledgement."""

    def __init__(self, link: NatsLink, settings: Settings) -> None:
        self.link = link
        self.settings = settings
        self._ready = False
        self.duplicates = 0

    def publish(self, batch: Batch) -> None:
        """Publish one batch with its id as Nats-Msg-Id; returns once JetStream has stored it.
        Raises NatsUnavailable (the sink then spills it)."""
        payload = encode(batch)

        async def work() -> bool:
            js = await self.link.jetstream()
            if not self._ready:
                await ensure_stream(js, self.settings)
                self._ready = True
            ack = await js.publish(
                self.settings.nats_subject,
                payload,
                timeout=PUBLISH_TIMEOUT,
                headers={MSG_ID: batch.id},
            )
            return bool(ack.duplicate)

        try:
            if self.link.call(work, timeout=PUBLISH_TIMEOUT + 1):
                self.duplicates += 1
        except NatsUnavailable:
            raise
        except Exception as exc:
            raise NatsUnavailable(f"batch {batch.id} not acknowledged: {exc}") from exc


def jetstream_sink(ctx: Context, link: NatsLink) -> DeliveringSink:
    """Batches published to the hit stream; spilled locally while NATS does not answer."""
    publisher = Publisher(link, ctx.settings)
    return DeliveringSink(
        publisher.publish, ctx.settings.data_dir / "spill", mode="nats", on_close=link.close
    )


def _key(campaign_id: int) -> str:
    return f"campaign.{campaign_id}"


async def _bucket(link: NatsLink, name: str, *, create: bool = False) -> KeyValue:
    js = await link.jetstream()
    try:
        return await js.key_value(name)
    except BucketNotFoundError:
        if not create:
            raise
        return await js.create_key_value(bucket=name, history=1)


class BucketLinks:
    """Registered links read from the key-value bucket (a tracking node's LinkSource). A
    campaign not published yet raises: its clicks get the "try again" page, never a guess."""

    def __init__(self, link: NatsLink, bucket: str) -> None:
        self.link = link
        self.bucket = bucket

    async def read_all(self) -> dict[tuple[int, int], str]:
        async def work() -> dict[tuple[int, int], str]:
            try:
                kv = await _bucket(self.link, self.bucket)
                keys = await kv.keys()
            except (BucketNotFoundError, NoKeysError):
                return {}
            found: dict[tuple[int, int], str] = {}
            for key in keys:
                entry = await kv.get(key)
                campaign_id = int(key.rsplit(".", 1)[1])
                for link_id, url in _links_of(entry.value).items():
                    found[(campaign_id, link_id)] = url
            return found

        return await self.link.acall(work)

    async def read_campaign(self, campaign_id: int) -> dict[int, str]:
        async def work() -> dict[int, str]:
            kv = await _bucket(self.link, self.bucket)
            try:
                entry = await kv.get(_key(campaign_id))
            except KeyNotFoundError as exc:
                raise LookupError(f"links of campaign {campaign_id} not published yet") from exc
            return _links_of(entry.value)

        return await self.link.acall(work)


def _links_of(value: bytes | None) -> dict[int, str]:
    data: dict[str, Any] = json.loads(value or b"{}")
    return {int(k): str(v) for k, v in data.items()}


def publish_campaign_links(ctx: Context, campaign_id: int) -> int:
    """Put a campaign's registered links into the links bucket (`campaign send`, before any
    message goes out) so tracking nodes can redirect its clicks. Returns how many; raises
    NatsUnavailable, naming the URL, when NATS cannot take them."""
    links = DatabaseLinks(ctx.db).campaign_now(campaign_id)
    body = json.dumps({str(k): v for k, v in sorted(links.items())}).encode()
    link = NatsLink(ctx.settings.nats_url)

    async def work() -> None:
        kv = await _bucket(link, ctx.settings.nats_links_bucket, create=True)
        await kv.put(_key(campaign_id), body)

    try:
        link.call(work)
    except NatsUnavailable:
        raise
    except Exception as exc:
        raise NatsUnavailable(
            f"the links of campaign {campaign_id} could not be published to NATS at "
            f"{ctx.settings.nats_url}: {exc}"
        ) from exc
    finally:
        link.close()
    return len(links)
