"""Raw hit data on disk (R17, R20), read as an operator would read the machine: while the
database is away and after it is back, in both serving modes, every file under the test's
folder (data folder, spill files, journal, log file, SQLite database and its -wal) is searched
byte by byte for the user agents and IP addresses of the recipients' hits."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from clearpixel.consent import record_decision
from clearpixel.domain.ledger import Method
from clearpixel.domain.urls import pixel_path
from clearpixel.ingest.sinks import FileQueueSink
from clearpixel.ingest.tracker import build_worker, spill_dir
from clearpixel.web.server import ThreadedServer
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import (
    anonymous_url,
    click_url,
    deliverability_token,
    find_text_anywhere,
    make_campaign,
    make_send,
    pixel_url,
    rows,
)
from tests.web.tracking_support import eventually, request


def user_agent(who: str) -> str:
    return f"Mozilla/5.0 (X11; Linux x86_64) Thunderbird/115.3.1 Marker{who}Zq"


# who: (first three octets of the requester's address, flags at send, send mode)
RECIPIENTS = {
    "anonymous": ("198.51.101", 0, "anonymous"),
    "neverasked": ("198.51.102", None, "anonymous"),
    "deliverability": ("198.51.103", 0, "deliverability"),
    "withdrawn": ("198.51.104", 1, "personal"),
    "consenting": ("198.51.105", 1, "personal"),
}
NOT_CONSENTING = ["anonymous", "neverasked", "deliverability", "withdrawn"]


def needles(names: list[str]) -> list[bytes]:
    found: list[bytes] = []
    for who in names:
        prefix = RECIPIENTS[who][0]
        found += [f"Marker{who}Zq".encode(), f"{prefix}.".encode()]
    return found


def files_containing(folder: Path, wanted: list[bytes]) -> list[str]:
    """Every file under `folder` (any depth) whose bytes contain one of `wanted`."""
    hits = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits += [f"{path.relative_to(folder)}: {w.decode()}" for w in wanted if w in data]
    return hits


def spill_files_with_content(ctx) -> list[str]:  # type: ignore[no-untyped-def]
    """Spill files and the journal (what holds batches), not the worker's progress file."""
    folder = Path(ctx.settings.data_dir) / "spill"
    batches = [*folder.glob("*.jsonl"), *folder.glob("*.draft")]
    return [p.name for p in batches if p.stat().st_size]


@contextmanager
def database_away(ctx, tmp_path: Path) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The installation's database unreachable: its engine points at nothing (a SQLite file
    in a folder that does not exist, or a PostgreSQL port nobody listens on)."""
    real = ctx.db.engine
    url = (
        "postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=2"
        if ctx.db.is_postgres
        else f"sqlite:///{tmp_path}/gone/away.db"
    )
    ctx.db.engine = sa.create_engine(url)
    try:
        yield
    finally:
        ctx.db.engine.dispose()
        ctx.db.engine = real


@contextmanager
def log_file(path: Path) -> Iterator[None]:
    """Everything the installation logs, at every level, written to `path` for the test."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


@contextmanager
def serving(ctx, mode: str) -> Iterator[ThreadedServer]:  # type: ignore[no-untyped-def]
    """The app over real HTTP behind a trusted loopback proxy (so X-Forwarded-For names the
    requester), ingesting in a thread of the server or in a worker beside it."""
    if mode == "ingest-thread":
        with ThreadedServer(ctx, trust_loopback_proxy=True) as server:
            yield server
        return
    server = ThreadedServer(ctx, sink=FileQueueSink(spill_dir(ctx)), trust_loopback_proxy=True)
    worker = build_worker(ctx)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        with server:
            yield server
    finally:
        worker.stop()
        thread.join(timeout=60)


def hits_counted(ctx) -> int:  # type: ignore[no-untyped-def]
    return sum(int(r["n"]) for r in rows(ctx, "hit_counters"))


@pytest.mark.parametrize("mode", ["ingest-thread", "ingest-process"])
def test_no_user_agent_or_address_of_a_non_consenting_hit_is_ever_on_disk(ctx, tmp_path, mode):
    list_id = make_list(ctx)
    made = make_contacts(ctx, list_id, [flags for _, flags, _ in RECIPIENTS.values()])
    ids = dict(zip(RECIPIENTS, made, strict=True))
    campaign_id, public_id = make_campaign(ctx, list_id)
    for who, (_, _, sent) in RECIPIENTS.items():
        make_send(ctx, campaign_id, ids[who], mode=sent, purposes=1 if sent == "personal" else 0)
    record_decision(  # withdrawn after the email went out, before any hit
        ctx.db,
        ids["withdrawn"],
        revoked=1,
        method=Method.PREFERENCE_PAGE,
        now=ctx.now(),
        cooldown=ctx.cooldown,
    )
    deliverability = ids["deliverability"]
    paths = {
        "anonymous": [anonymous_url(public_id), click_url(ctx, campaign_id, ids["anonymous"], 1)],
        "neverasked": [click_url(ctx, campaign_id, ids["neverasked"], 2)],
        "deliverability": [pixel_path(deliverability_token(ctx, campaign_id, deliverability))],
        "withdrawn": [
            pixel_url(ctx, campaign_id, ids["withdrawn"]),
            click_url(ctx, campaign_id, ids["withdrawn"], 1),
        ],
        "consenting": [
            pixel_url(ctx, campaign_id, ids["consenting"]),
            click_url(ctx, campaign_id, ids["consenting"], 2),
        ],
    }

    def hit_everything(round_: int) -> int:
        sent = 0
        for who, urls in paths.items():
            for path in urls:
                status, _, _ = request(
                    server.url,
                    path,
                    headers={
                        "User-Agent": user_agent(who),
                        "X-Forwarded-For": f"{RECIPIENTS[who][0]}.{70 + round_}",
                    },
                )
                assert status in (200, 302)
                sent += 1
        return sent

    with log_file(tmp_path / "data" / "clearpixel.log"), serving(ctx, mode) as server:
        expected = hit_everything(0)
        assert eventually(lambda: hits_counted(ctx) == expected)
        with database_away(ctx, tmp_path):
            expected += hit_everything(1)
            assert eventually(lambda: spill_files_with_content(ctx))
            # during the outage: the hits wait on disk, without who made them
            assert files_containing(tmp_path, needles(NOT_CONSENTING)) == []
        assert eventually(lambda: hits_counted(ctx) == expected)
        # committed: no spill or journal file keeps the batch (contact ids, exact times)
        assert eventually(lambda: not spill_files_with_content(ctx))
        assert files_containing(tmp_path, needles(NOT_CONSENTING)) == []
    assert files_containing(tmp_path, needles(NOT_CONSENTING)) == []
    assert find_text_anywhere(ctx, ["Marker", "198.51.10"]) == []
    # not even a consenting reader's address or browser is kept: nothing reads them
    assert files_containing(tmp_path, needles(["consenting"])) == []
