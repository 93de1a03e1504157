"""NATS JetStream, for a scaled-out deployment (docs/deployment.md): the stream of hit
batches between tracking nodes and ingest workers, and tracking nodes' reading of the
campaigns' registered links from the key-value bucket (store/nats_link.py, which also holds
the process's NATS connection; sending puts the links there).

The stream keeps batches for `CLEARPIXEL_NATS_RETENTION_HOURS` (default 72: they hold
contact ids and exact times, R20) and drops a batch id published twice within its two-minute
duplicate window, so a publish retried after a lost acknowledgement is stored once.
"""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NoKeysError, NotFoundError

from clearpixel.config import Settings
from clearpixel.context import Context
from clearpixel.ingest.codec import encode
from clearpixel.ingest.pipeline import Batch
from clearpixel.ingest.sinks import DeliveringSink
from clearpixel.store.nats_link import (
    NatsLink,
    NatsUnavailable,
    links_bucket,
    links_key,
    links_of,
)

__all__ = ["BucketLinks", "NatsLink", "NatsUnavailable", "Publisher", "jetstream_sink"]

log = logging.getLogger("clearpixel.nats")
DUPLICATE_WINDOW = 120.0  # seconds: a batch id republished within this is stored once
PUBLISH_TIMEOUT = 5.0
MSG_ID = "Nats-Msg-Id"


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


class BucketLinks:
    """Registered links read from the key-value bucket (a tracking node's LinkSource). A
    campaign not published yet raises: its clicks get the "try again" page, never a guess."""

    def __init__(self, link: NatsLink, bucket: str) -> None:
        self.link = link
        self.bucket = bucket

    async def read_all(self) -> dict[tuple[int, int], str]:
        async def work() -> dict[tuple[int, int], str]:
            try:
                kv = await links_bucket(self.link, self.bucket)
                keys = await kv.keys()
            except (BucketNotFoundError, NoKeysError):
                return {}
            found: dict[tuple[int, int], str] = {}
            for key in keys:
                entry = await kv.get(key)
                campaign_id = int(key.rsplit(".", 1)[1])
                for link_id, url in links_of(entry.value).items():
                    found[(campaign_id, link_id)] = url
            return found

        return await self.link.acall(work)

    async def read_campaign(self, campaign_id: int) -> dict[int, str]:
        async def work() -> dict[int, str]:
            kv = await links_bucket(self.link, self.bucket)
            try:
                entry = await kv.get(links_key(campaign_id))
            except KeyNotFoundError as exc:
                raise LookupError(f"links of campaign {campaign_id} not published yet") from exc
            return links_of(entry.value)

        return await self.link.acall(work)
