"""Reads never wait for a writer: with a long write transaction open, `/healthz` and the
API's reads answer at once (on SQLite a read used to take the write lock too)."""

from __future__ import annotations

import http.client
import threading

import sqlalchemy as sa

from clearpixel.store.schema import audience_lists
from tests.helpers import make_list


def test_reads_answer_while_a_write_transaction_is_open(ctx, live_server):
    make_list(ctx, "before")
    holding, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with ctx.db.begin() as tx:
            tx.execute(audience_lists.insert().values(name="during", created_at=ctx.now()))
            holding.set()
            release.wait(60)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert holding.wait(30)
        conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=8)
        try:
            conn.request("GET", "/healthz")
            assert conn.getresponse().status == 200
        finally:
            conn.close()
        with ctx.db.connect() as read:  # sees the last committed state
            names = read.execute(sa.select(audience_lists.c.name)).scalars().all()
        assert names == ["before"]
    finally:
        release.set()
        writer.join(60)
    with ctx.db.connect() as read:
        assert sorted(read.execute(sa.select(audience_lists.c.name)).scalars()) == [
            "before",
            "during",
        ]
