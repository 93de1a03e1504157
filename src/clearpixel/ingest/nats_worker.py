"""The JetStream ingest worker (`clearpixel ingest --from nats://...`): a durable pull
consumer shared by every worker, each batch applied through the existing pipeline.

For each message: decode the batch, run the pipeline (consent against the flags *now*,
events, counters, last-open dates) in one transaction that records the batch id, commit,
then acknowledge. A batch delivered again (a worker killed before its ack, a lost ack, two
workers racing after an ack timeout) finds its id recorded and changes nothing. Several
workers fetch from the same consumer; `max_ack_pending` bounds the batches handed out and not
acknowledged, so a slow database holds the stream back instead of the workers' memory.

While the database is unreachable the worker keeps the batch (telling NATS it is still in
progress) and retries it, so an outage never uses up deliveries. A batch that fails with the
database up is retried a few times in place (a deadlock between workers), then handed back;
after `CLEARPIXEL_NATS_MAX_DELIVER` deliveries, or at once when it is not a batch at all, it
goes to the dead-letter table with the error, and is acknowledged: the others flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import FetchTimeoutError

from clearpixel.config import Settings
from clearpixel.ingest.codec import BatchUnreadable, decode
from clearpixel.ingest.jetstream import MSG_ID, NatsLink, ensure_stream
from clearpixel.ingest.pipeline import Batch
from clearpixel.store import Database
from clearpixel.store import dead_letters as store

log = logging.getLogger("clearpixel.ingest")
RETRIES_IN_PLACE = 3


class NatsIngestWorker:
    """Fetches batches from the hit stream's durable consumer and ingests them."""

    def __init__(
        self,
        ingest: Callable[[Batch], object],
        db: Database,
        settings: Settings,
        *,
        now: Callable[[], datetime],
        fetch: int = 4,
        retry_after: float = 0.5,
    ) -> None:
        self._ingest = ingest
        self.db = db
        self.settings = settings
        self.now = now
        self.fetch = fetch
        self.retry_after = retry_after
        self.link = NatsLink(settings.nats_url)
        self.stopping = asyncio.Event()
        self.ingested_batches = 0
        self.dead_letters = 0

    def run(self) -> None:
        """Ingest until `stop()`; the batch in hand is finished (or handed back) first."""
        self.link.call(self._consume, timeout=None)
        self.link.close()

    def stop(self) -> None:
        self.link.call_soon(self.stopping.set)

    async def _consume(self) -> None:
        subscription = None
        while not self.stopping.is_set():
            try:
                if subscription is None:
                    js = await self.link.jetstream()
                    await ensure_stream(js, self.settings)
                    subscription = await js.pull_subscribe(
                        self.settings.nats_subject,
                        durable=self.settings.nats_consumer,
                        stream=self.settings.nats_stream,
                        config=ConsumerConfig(
                            ack_policy=AckPolicy.EXPLICIT,
                            ack_wait=self.settings.nats_ack_wait_seconds,
                            max_deliver=-1,  # this worker counts deliveries (dead letters)
                            max_ack_pending=self.settings.nats_max_ack_pending,
                        ),
                    )
                try:
                    messages = await subscription.fetch(self.fetch, timeout=1.0)
                except (FetchTimeoutError, TimeoutError):
                    continue
                for message in messages:
                    await self._handle(message)
            except Exception as exc:  # NATS away: wait, then subscribe again
                log.warning("NATS consumer failed, retrying: %s", str(exc)[:200])
                subscription = None
                await self._pause()

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), self.retry_after)

    async def _handle(self, message: Msg) -> None:
        deliveries = message.metadata.num_delivered or 1
        batch_id = (message.headers or {}).get(MSG_ID) or f"seq-{message.metadata.sequence.stream}"
        try:
            batch = decode(message.data)
        except BatchUnreadable as exc:
            await self._dead_letter(message, batch_id, str(exc), deliveries)
            return
        limit = self.settings.nats_max_deliver
        if deliveries > 1:
            log.warning("batch %s delivered again (delivery %d)", batch.id, deliveries)
        if deliveries > limit:  # its worker died (or was killed) each time it ingested it
            await self._dead_letter(message, batch.id, "never committed", deliveries)
            return
        error = await self._ingest_kept(message, batch)
        if error is None:
            await message.ack()
            self.ingested_batches += 1
        elif deliveries >= limit:
            await self._dead_letter(message, batch.id, error, deliveries)
        else:
            log.warning("batch %s failed (delivery %d): %s", batch.id, deliveries, error[:200])
            await message.nak(delay=self.retry_after)

    async def _ingest_kept(self, message: Msg, batch: Batch) -> str | None:
        """Ingest `batch`; None once committed, else the last error. While the database is
        unreachable, keeps the message in progress and retries without counting."""
        attempts = 0
        while True:
            try:
                await asyncio.to_thread(self._ingest, batch)
                return None
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            if not await asyncio.to_thread(self._database_up):
                log.warning("database unreachable; batch %s kept, retrying", batch.id)
                await message.in_progress()
                await asyncio.sleep(self.retry_after)
                continue
            attempts += 1
            if attempts >= RETRIES_IN_PLACE:
                return error

    def _database_up(self) -> bool:
        try:
            self.db.ping()
        except Exception:
            return False
        return True

    async def _dead_letter(self, message: Msg, batch_id: str, error: str, deliveries: int) -> None:
        """Keep the message in the dead-letter table, then acknowledge it (the others flow).
        If the table cannot be written, the message is handed back instead."""
        try:
            await asyncio.to_thread(self._record, batch_id, message.data, error, deliveries)
        except Exception as exc:
            log.warning("dead letter %s not recorded: %s", batch_id, str(exc)[:200])
            await message.nak(delay=self.retry_after)
            return
        log.error("batch %s is a dead letter after %d deliveries: %s", batch_id, deliveries, error)
        self.dead_letters += 1
        await message.ack()

    def _record(self, batch_id: str, payload: bytes, error: str, deliveries: int) -> None:
        with self.db.begin() as tx:
            store.record(tx, batch_id, payload, error=error, deliveries=deliveries, now=self.now())


def replay_dead_letter(ingest: Callable[[Batch], object], db: Database, batch_id: str) -> Batch:
    """Apply a dead letter now (after the cause was mended) and remove it; its batch id makes
    a batch that was in fact applied change nothing. Raises LookupError for an unknown id."""
    with db.connect() as tx:
        letter = store.get(tx, batch_id)
    if letter is None:
        raise LookupError(batch_id)
    batch = decode(letter.payload)
    ingest(batch)
    with db.begin() as tx:
        store.remove(tx, batch_id)
    return batch


def listed_dead_letters(db: Database) -> list[dict[str, object]]:
    """The dead letters, oldest first: batch id, when, deliveries, error, hits (or None when
    the payload is not a batch)."""
    with db.connect() as tx:
        letters = store.listed(tx)
    found: list[dict[str, object]] = []
    for letter in letters:
        try:
            hits: int | None = len(decode(letter.payload).hits)
        except BatchUnreadable:
            hits = None
        found.append(
            {
                "batch_id": letter.batch_id,
                "at": letter.at,
                "deliveries": letter.deliveries,
                "error": letter.error,
                "hits": hits,
            }
        )
    return found
