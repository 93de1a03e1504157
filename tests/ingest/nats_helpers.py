"""Helpers for tests against NATS JetStream: settings with names of the test's own (the
shared server on 127.0.0.1:4222 serves other tests at the same time), removal of the test's
stream and bucket, a tracking node without a database, a worker in a thread, and a client
that sends hits over one keep-alive connection."""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import nats

from clearpixel.context import Context
from clearpixel.ingest.jetstream import BucketLinks, NatsLink, jetstream_sink
from clearpixel.ingest.nats_worker import NatsIngestWorker
from clearpixel.ingest.pipeline import Batch
from clearpixel.ingest.tracker import build_pipeline
from clearpixel.store import Database
from clearpixel.web.tracking_node import TrackingNode
from tests.conftest import TEST_KEY

SHARED_NATS = "nats://127.0.0.1:4222"
NO_DATABASE = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"


def with_nats(ctx: Context, url: str = SHARED_NATS, **extra: object) -> Context:
    """`ctx` publishing to, and consuming from, a stream, consumer and bucket of its own."""
    suffix = uuid.uuid4().hex[:12]
    update = {
        "nats_url": url,
        "nats_stream": f"TEST_{suffix}",
        "nats_subject": f"test.{suffix}",
        "nats_consumer": f"ingest-{suffix}",
        "nats_links_bucket": f"links-{suffix}",
        **extra,
    }
    return Context(settings=ctx.settings.model_copy(update=update), db=ctx.db, now=ctx.now)


def remove_stream_and_bucket(ctx: Context) -> None:
    async def work() -> None:
        nc = await nats.connect(ctx.settings.nats_url, connect_timeout=10)
        js = nc.jetstream()
        for remove in (
            lambda: js.delete_stream(ctx.settings.nats_stream),
            lambda: js.delete_key_value(ctx.settings.nats_links_bucket),
        ):
            with suppress(Exception):
                await remove()
        await nc.close()

    asyncio.run(work())


def node_context(ctx: Context, folder: Path) -> Context:
    """A tracking node's context: signing keys and NATS, a data folder of its own, and a
    database that cannot be reached."""
    settings = ctx.settings.model_copy(update={"data_dir": folder, "database_url": NO_DATABASE})
    return Context(settings=settings, db=Database(NO_DATABASE), now=ctx.now)


def node_env(ctx: Context, folder: Path) -> dict[str, str]:
    """The environment of a tracking node process (`serve --role tracking`): the context's
    keys and NATS names, a data folder of its own, and a database that cannot be reached."""
    s = ctx.settings
    return {
        "CLEARPIXEL_SECRET_KEYS": TEST_KEY,
        "CLEARPIXEL_DATABASE_URL": NO_DATABASE,
        "CLEARPIXEL_DATA_DIR": str(folder),
        "CLEARPIXEL_NATS_URL": s.nats_url,
        "CLEARPIXEL_NATS_STREAM": s.nats_stream,
        "CLEARPIXEL_NATS_SUBJECT": s.nats_subject,
        "CLEARPIXEL_NATS_LINKS_BUCKET": s.nats_links_bucket,
    }


def tracking_node(ctx: Context) -> TrackingNode:
    link = NatsLink(ctx.settings.nats_url)
    return TrackingNode(
        ctx,
        sink=jetstream_sink(ctx, link),
        links=BucketLinks(link, ctx.settings.nats_links_bucket),
    )


@contextmanager
def worker_thread(
    ctx: Context, ingest: Callable[[Batch], object] | None = None
) -> Iterator[NatsIngestWorker]:
    """A JetStream ingest worker running in a thread until the block ends."""
    worker = NatsIngestWorker(
        ingest or build_pipeline(ctx).ingest, ctx.db, ctx.settings, now=ctx.now, retry_after=0.1
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()


def get(port: int, paths: list[str]) -> list[tuple[int, dict[str, str], bytes]]:
    """GET each path over one keep-alive connection: (status, headers, body) each."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    answers = []
    try:
        for path in paths:
            conn.request("GET", path, headers={"User-Agent": UA})
            response = conn.getresponse()
            body = response.read()
            headers = {k.lower(): v for k, v in response.getheaders()}
            answers.append((response.status, headers, body))
    finally:
        conn.close()
    return answers


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)
