"""Concurrent consent decisions on PostgreSQL: the ledger stays one sound chain, each consent
link is decided once, and fold(ledger) == flags for every contact (R10, R11)."""

from __future__ import annotations

import re
import threading

import httpx2
import pytest

from clearpixel.domain.ledger import fold
from clearpixel.domain.ledger_chain import verify_chain
from clearpixel.store.contacts import iter_all_flags
from clearpixel.store.ledger import iter_entries
from tests.consent.consent_helpers import consent_token
from tests.helpers import make_contacts, make_list

pytestmark = pytest.mark.postgres_only
N = 50


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found
    return found.group(1)


def test_fifty_concurrent_decisions_leave_a_verified_ledger_and_fold_equals_flags(ctx, live_server):
    ids = make_contacts(ctx, make_list(ctx), [None] * N)
    posts: list[tuple[str, dict[str, str]]] = []
    with httpx2.Client(base_url=live_server.url) as client:
        for i, cid in enumerate(ids):
            path = f"/consent/{consent_token(ctx, cid)}"
            page = client.get(path).text
            form = {k: _hidden(page, k) for k in ("nonce", "csrf", "notice_id")}
            form["choice"] = "accept" if i % 2 == 0 else "refuse"
            posts.append((path, form))
    # the first ten links are posted twice at once (a double click, a replay): one wins
    posts += [(path, {**form, "choice": "refuse"}) for path, form in posts[:10]]
    barrier = threading.Barrier(len(posts))
    statuses: list[int] = []
    lock = threading.Lock()

    def post(path: str, form: dict[str, str]) -> None:
        with httpx2.Client(base_url=live_server.url, timeout=60) as client:
            barrier.wait()
            status = client.post(path, data=form).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=post, args=item) for item in posts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] * N + [409] * 10
    with ctx.db.connect() as conn:
        ledger = list(iter_entries(conn))
        flags = dict(iter_all_flags(conn))
    assert verify_chain(ledger) is None
    assert len(ledger) == N
    assert fold(ledger) == flags
    assert sorted(e.contact_id for e in ledger) == sorted(ids)  # one decision per link
    for i, cid in enumerate(ids):
        if i >= 10:
            assert flags[cid] == (1 if i % 2 == 0 else 0)
        else:  # either click of the double post may win, never both
            assert flags[cid] in (0, 1)


def test_concurrent_signups_of_one_new_address_make_one_contact(ctx, settings):
    """With single confirmation (a form behind the organisation's login) a new address is
    recorded at once: ten simultaneous submissions make one contact and a sound chain."""
    from clearpixel.context import Context
    from clearpixel.web.server import ThreadedServer

    single = Context(
        settings=settings.model_copy(update={"signup_confirmation": "single"}),
        db=ctx.db,
        now=ctx.now,
    )
    make_list(ctx)
    barrier = threading.Barrier(10)
    statuses: list[int] = []
    lock = threading.Lock()

    def post(tick: bool) -> None:
        data = {"email": "twice@example.org", "purpose": ["open_tracking"] if tick else []}
        with httpx2.Client(base_url=server.url, timeout=60) as client:
            barrier.wait()
            status = client.post("/subscribe/newsletter", data=data).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=post, args=(i % 2 == 0,)) for i in range(10)]
    with ThreadedServer(single) as server:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [200] * 10
    with ctx.db.connect() as conn:
        ledger = list(iter_entries(conn))
        flags = dict(iter_all_flags(conn))
    assert len(flags) == 1
    assert verify_chain(ledger) is None
    assert fold(ledger) == flags
