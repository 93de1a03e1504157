"""Retention with a pinned clock: exactly what is past its window goes, on SQLite and
PostgreSQL; counters and campaign totals stay; `clearpixel check` reports the windows and
fails one set beyond its documented maximum."""

from __future__ import annotations

import fcntl
import json
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from clearpixel.context import Context
from clearpixel.reports.compliance import Status, check_installation, compliant
from clearpixel.store.events import insert_personal_events
from clearpixel.store.schema import campaign_totals, contacts, hit_counters, personal_events
from clearpixel.subjects.retention import run_retention
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import make_campaign, rows

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
EVENTS_EDGE = NOW - timedelta(days=396)
DATES_EDGE = (NOW - timedelta(days=365)).date()


def _event(
    campaign_id: int, contact_id: int | None, at: datetime, marker: str
) -> dict[str, object]:
    return {
        "campaign_id": campaign_id,
        "contact_id": contact_id,
        "event": "open",
        "link_id": None,
        "at": at,
        "verdict": "human",
        "reason": None,
        "rule": marker,
    }


def _populate(ctx: Context) -> tuple[list[int], dict[str, list[dict[str, object]]]]:
    list_id = make_list(ctx)
    ids = make_contacts(ctx, list_id, [1, 1, 1])
    campaign_id, _ = make_campaign(ctx, list_id)
    second = timedelta(seconds=1)
    with ctx.db.begin() as tx:
        insert_personal_events(
            tx,
            [
                _event(campaign_id, ids[0], EVENTS_EDGE - second, "past-window"),
                _event(campaign_id, None, EVENTS_EDGE - timedelta(days=100), "past-detached"),
                _event(campaign_id, ids[1], EVENTS_EDGE, "at-the-edge"),
                _event(campaign_id, ids[2], NOW - timedelta(days=3), "recent"),
            ],
        )
        for cid, last_open, last_click in (
            (ids[0], DATES_EDGE - timedelta(days=1), DATES_EDGE - timedelta(days=400)),
            (ids[1], DATES_EDGE, None),
            (ids[2], date(2026, 11, 29), DATES_EDGE - timedelta(days=1)),
        ):
            tx.execute(
                contacts.update()
                .where(contacts.c.id == cid)
                .values(last_open_date=last_open, last_click_date=last_click)
            )
        tx.execute(
            hit_counters.insert(),
            [
                {
                    "campaign_id": campaign_id,
                    "hour": EVENTS_EDGE - timedelta(days=30),
                    "mode": "personal",
                    "kind": "marketing",
                    "event": "open",
                    "verdict": "human",
                    "n": 7,
                }
            ],
        )
        tx.execute(
            campaign_totals.insert(),
            [{"campaign_id": campaign_id, "metric": "openers", "link_id": 0, "n": 3}],
        )
    counters = {name: rows(ctx, name) for name in ("hit_counters", "campaign_totals", "hit_drops")}
    return ids, counters


def _spill_files(ctx: Context) -> dict[str, object]:
    folder = ctx.settings.data_dir / "spill"
    folder.mkdir(parents=True, exist_ok=True)
    ages = {"stale.jsonl": 25, "fresh.jsonl": 23, "held.jsonl": 30}
    for name, hours in ages.items():
        path = folder / name
        path.write_text(json.dumps({"hits": [{"ua": name}]}) + "\n")
        stamp = (NOW - timedelta(hours=hours)).timestamp()
        os.utime(path, (stamp, stamp))
    held = (folder / "held.jsonl").open("a+")
    fcntl.flock(held, fcntl.LOCK_EX)
    return {"folder": folder, "held": held}


def test_retention_removes_exactly_what_is_past_its_window_and_keeps_counters(ctx):
    ids, counters = _populate(ctx)
    spill = _spill_files(ctx)
    try:
        report = run_retention(ctx, NOW)
    finally:
        spill["held"].close()  # type: ignore[attr-defined]

    kept = sorted(str(e["rule"]) for e in rows(ctx, "personal_events"))
    assert kept == ["at-the-edge", "recent"]
    with ctx.db.connect() as conn:
        dates = {
            row.id: (row.last_open_date, row.last_click_date)
            for row in conn.execute(sa.select(contacts).order_by(contacts.c.id))
        }
    assert dates[ids[0]] == (None, None)
    assert dates[ids[1]] == (DATES_EDGE, None)
    assert dates[ids[2]] == (date(2026, 11, 29), None)
    assert sorted(p.name for p in spill["folder"].iterdir()) == ["fresh.jsonl", "held.jsonl"]  # type: ignore[attr-defined]
    assert (report.personal_events, report.last_open_dates, report.last_click_dates) == (2, 1, 2)
    assert report.spill_files == 1
    assert {name: rows(ctx, name) for name in counters} == counters

    again = run_retention(ctx, NOW)  # nothing left past its window; the released file goes
    assert (again.personal_events, again.last_open_dates, again.spill_files) == (0, 0, 1)
    assert [p.name for p in spill["folder"].iterdir()] == ["fresh.jsonl"]  # type: ignore[attr-defined]


def test_retention_run_command_takes_the_clock_as_an_option(ctx, cli):
    _populate(ctx)
    result = cli("retention", "run", "--now", "2026-11-30T12:00:00")
    assert "personal events deleted: 2" in result.output
    assert "last-open dates cleared: 1" in result.output
    with ctx.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(personal_events)).scalar() == 2


def test_check_reports_the_windows_and_fails_one_beyond_its_maximum(ctx):
    findings = {str(f.topic): f for f in check_installation(ctx)}
    assert str(findings["retention: personal opens and clicks"].detail) == (
        "396 days (at most 762 days)"
    )
    assert str(findings["retention: raw hits in spill files"].detail) == (
        "24 hours (at most 72 hours)"
    )
    assert all(f.status is Status.OK for t, f in findings.items() if t.startswith("retention"))

    greedy = Context(
        settings=ctx.settings.model_copy(update={"retention_personal_events_days": 3650}),
        db=ctx.db,
        now=ctx.now,
    )
    flagged = {str(f.topic): f for f in check_installation(greedy)}
    finding = flagged["retention: personal opens and clicks"]
    assert finding.status is Status.FAIL
    assert "CLEARPIXEL_RETENTION_PERSONAL_EVENTS_DAYS" in str(finding.detail)
    assert "maximum of 762 days" in str(finding.detail)
    assert not compliant(list(flagged.values()))


def test_the_serving_app_applies_retention_on_its_own(ctx):
    import asyncio

    from clearpixel.web import periodic

    _populate(ctx)
    pinned = Context(settings=ctx.settings, db=ctx.db, now=lambda: NOW)

    async def serve_a_while() -> int:
        task = periodic.start_retention(pinned, first_after=0, every=3600)
        try:
            for _ in range(500):
                left = len(rows(ctx, "personal_events"))
                if left == 2:
                    return left
                await asyncio.sleep(0.01)
            return left
        finally:
            await periodic.stop(task)

    with ThreadPoolExecutor(1) as thread:  # its own event loop, whoever runs one here
        assert thread.submit(asyncio.run, serve_a_while()).result() == 2
