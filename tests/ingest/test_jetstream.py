"""NATS JetStream: a tracking node with no database publishes its batches and reads links
from the bucket; a worker ingests each batch once; a redelivered batch changes nothing; a
poison batch becomes a dead letter while the others flow, and is replayed by id; a
withdrawal made while hits wait in the stream makes them anonymous (R5); a NATS server
stopped under load loses and repeats nothing."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import nats
import pytest

from clearpixel.context import Context
from clearpixel.domain.events import Hit, HitSource, Verdict
from clearpixel.ingest.codec import encode
from clearpixel.ingest.jetstream import (
    MSG_ID,
    NatsLink,
    Publisher,
    ensure_stream,
)
from clearpixel.ingest.pipeline import Batch
from clearpixel.sending.campaigns import publish_links_for_nodes
from clearpixel.web.server import ThreadedServer
from clearpixel.web.tracking import GIF
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import click_url, make_campaign, make_send, pixel_url, rows
from tests.ingest.nats_helpers import (
    get,
    node_context,
    remove_stream_and_bucket,
    tracking_node,
    wait_until,
    with_nats,
    worker_thread,
)
from tests.ingest.test_pipeline import counters, drops, withdraw
from tests.private_nats import PrivateNats


@pytest.fixture
def nctx(ctx) -> Iterator[Context]:
    """The test's context on the shared NATS server, under names of its own."""
    named = with_nats(ctx, nats_max_deliver=2)
    yield named
    remove_stream_and_bucket(named)


def hits_counted(ctx: Context) -> int:
    return sum(int(r["n"]) for r in rows(ctx, "hit_counters"))


def campaign_with(ctx: Context, flags: list[int | None]) -> tuple[int, str, list[int]]:
    list_id = make_list(ctx)
    contacts = make_contacts(ctx, list_id, flags)
    campaign_id, public_id = make_campaign(ctx, list_id)
    for contact in contacts:
        make_send(ctx, campaign_id, contact)
    return campaign_id, public_id, contacts


def publish_raw(ctx: Context, payload: bytes, msg_id: str) -> None:
    async def work() -> None:
        nc = await nats.connect(ctx.settings.nats_url)
        js = nc.jetstream()
        await ensure_stream(js, ctx.settings)
        await js.publish(ctx.settings.nats_subject, payload, headers={MSG_ID: msg_id})
        await nc.close()

    asyncio.run(work())


def test_a_node_without_database_answers_and_workers_count_each_hit_once(nctx, tmp_path):
    campaign_id, public_id, (a, b) = campaign_with(nctx, [1, 1])
    assert publish_links_for_nodes(nctx, campaign_id) == 2
    node = node_context(nctx, tmp_path / "node")
    pixels = [pixel_url(nctx, campaign_id, c) for c in (a, b) for _ in range(3)]
    with ThreadedServer(node, app=tracking_node(node)) as server:
        answers = get(server.port, [*pixels, f"/o/a/{public_id}.gif"])
        assert [(status, body) for status, _, body in answers] == [(200, GIF)] * 7
        (click,) = get(server.port, [click_url(nctx, campaign_id, a, 1)])
        assert click[0] == 302 and click[1]["location"] == "https://shop.example.org/sale"
        # a correctly signed click of a campaign whose links were never published
        (unknown,) = get(server.port, [click_url(nctx, campaign_id + 1, a, 1)])
        assert unknown[0] == 503 and b"try the link again" in unknown[2]
        (health,) = get(server.port, ["/healthz"])
        assert health[0] == 200 and json.loads(health[2])["ingest"]["mode"] == "nats"
        assert get(server.port, ["/admin"])[0][0] == 404
    assert hits_counted(nctx) == 0  # nothing ingested by the node
    with worker_thread(nctx):
        wait_until(lambda: hits_counted(nctx) == 8)
        # the same batch published again under another message id (after the duplicate
        # window, or by a second node): its batch id is recorded, it changes nothing
        hit = Hit(
            source=HitSource.PERSONAL,
            at=nctx.now().timestamp(),
            campaign_id=campaign_id,
            contact_id=a,
            purposes=1,
            verdict=Verdict.HUMAN,
        )
        publish_raw(nctx, encode(Batch("again-1", [hit])), "first")
        wait_until(lambda: hits_counted(nctx) == 9)
        publish_raw(nctx, encode(Batch("again-1", [hit])), "second")
        publish_raw(nctx, encode(Batch("after-it", [hit])), "third")
        wait_until(lambda: hits_counted(nctx) == 10)
    assert hits_counted(nctx) == 10
    assert len(rows(nctx, "personal_events")) == 9  # 6 + 2 opens of a, 1 click
    assert drops(nctx) == {}  # the unavailable link was answered "try again", not dropped


def test_a_publish_retried_with_the_same_batch_id_is_stored_once(nctx):
    link = NatsLink(nctx.settings.nats_url)
    publisher = Publisher(link, nctx.settings)
    try:
        publisher.publish(Batch("retried-1", []))
        publisher.publish(Batch("retried-1", []))
    finally:
        link.close()
    assert publisher.duplicates == 1


def test_a_poison_batch_becomes_a_dead_letter_and_the_others_flow(nctx, cli):
    campaign_id, _, (a,) = campaign_with(nctx, [1])
    good = Hit(
        source=HitSource.PERSONAL,
        at=nctx.now().timestamp(),
        campaign_id=campaign_id,
        contact_id=a,
        purposes=1,
        verdict=Verdict.HUMAN,
    )
    mended = threading.Event()
    from clearpixel.ingest.tracker import build_pipeline

    pipeline = build_pipeline(nctx)

    def ingest(batch: Batch) -> object:
        if batch.id == "flaky-1" and not mended.is_set():
            raise RuntimeError("a bug in a step")
        return pipeline.ingest(batch)

    publish_raw(nctx, b"\x00 not a batch", "garbage-1")
    publish_raw(nctx, encode(Batch("flaky-1", [good])), "flaky-1")
    publish_raw(nctx, encode(Batch("fine-1", [good, good])), "fine-1")
    with worker_thread(nctx, ingest) as worker:
        wait_until(lambda: worker.dead_letters == 2 and hits_counted(nctx) == 2)
    assert hits_counted(nctx) == 2  # the fine batch only

    listed = cli("ingest", "dead-letters", "--json")
    letters = {letter["batch_id"]: letter for letter in json.loads(listed.output)}
    assert set(letters) == {"garbage-1", "flaky-1"}
    assert (
        letters["flaky-1"]["deliveries"] == 2 and "a bug in a step" in letters["flaky-1"]["error"]
    )
    assert letters["garbage-1"]["hits"] is None

    mended.set()
    replayed = cli("ingest", "dead-letters", "--replay", "flaky-1")
    assert "batch flaky-1 replayed: 1 hits ingested" in replayed.output
    assert hits_counted(nctx) == 3
    again = cli("ingest", "dead-letters", "--replay", "flaky-1", ok=False)
    assert again.exit_code == 2 and "no dead letter has the batch id 'flaky-1'" in again.output
    assert hits_counted(nctx) == 3
    listed = json.loads(cli("ingest", "dead-letters", "--json").output)
    assert [letter["batch_id"] for letter in listed] == ["garbage-1"]


def test_a_withdrawal_while_hits_wait_in_the_stream_makes_them_anonymous(nctx, tmp_path):
    """R5: consent is checked against the flags when the worker ingests, not when the node
    answered."""
    campaign_id, _, (a,) = campaign_with(nctx, [1])
    node = node_context(nctx, tmp_path / "node")
    with ThreadedServer(node, app=tracking_node(node)) as server:
        answers = get(server.port, [pixel_url(nctx, campaign_id, a)] * 3)
    assert [status for status, _, _ in answers] == [200] * 3
    withdraw(nctx, a)  # the hits are in the stream, not ingested yet
    with worker_thread(nctx):
        wait_until(lambda: hits_counted(nctx) == 3)
    assert rows(nctx, "personal_events") == []
    assert counters(nctx) == {("anonymous", "open", "human"): 3}
    assert drops(nctx) == {"withdrawn": 3}


def test_nats_stopped_under_load_loses_and_repeats_nothing(ctx, tmp_path):
    """Every pixel is answered while NATS is away; the node spills, says so on /healthz,
    and republishes the same batch ids when NATS is back; each hit is ingested once."""
    with PrivateNats(tmp_path) as server:
        nctx = with_nats(ctx, server.url)
        campaign_id, _, contacts = campaign_with(nctx, [1, 1, 1, 1])
        paths = [pixel_url(nctx, campaign_id, c) for c in contacts]
        node = node_context(nctx, tmp_path / "node")
        with ThreadedServer(node, app=tracking_node(node)) as http:
            answered = get(http.port, paths * 25)
            server.stop()
            answered += get(http.port, paths * 50)
            wait_until(lambda: get(http.port, ["/healthz"])[0][0] == 503)
            answered += get(http.port, paths * 25)
            server.start()
            answered += get(http.port, paths * 25)
            wait_until(lambda: get(http.port, ["/healthz"])[0][0] == 200)
        assert [(status, body) for status, _, body in answered] == [(200, GIF)] * 500
        with worker_thread(nctx):
            wait_until(lambda: hits_counted(nctx) >= 500)
            wait_until(lambda: len(rows(nctx, "ingested_batches")) > 0)
        assert hits_counted(nctx) == 500
        assert len(rows(nctx, "personal_events")) == 500
        assert list((tmp_path / "node" / "spill").glob("*.jsonl")) == []
