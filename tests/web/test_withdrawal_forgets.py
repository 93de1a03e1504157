"""Withdrawal over real HTTP forgets what the tracking produced about the person (R5, R20):
opens and clicks, last-open and last-click dates; later clicks in the mail sent personally are
counted but attributed to nobody; and on SQLite the bytes of the forgotten rows are gone from
the database file and its write-ahead log."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import pytest

from tests.consent.consent_helpers import contact, preferences_token
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import click_url, make_campaign, make_send, pixel_url, rows
from tests.web.tracking_support import eventually

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
# The clock of the tracking endpoints while the person reads: a time nothing else stores.
READ_AT = datetime(2026, 11, 2, 9, 47, 13, tzinfo=UTC)
READ_AT_TEXT = b"09:47:13"


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, name
    return found.group(1)


def counted(ctx) -> int:  # type: ignore[no-untyped-def]
    return sum(int(r["n"]) for r in rows(ctx, "hit_counters"))


def database_bytes(ctx) -> bytes:  # type: ignore[no-untyped-def]
    path = Path(ctx.db.url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_withdrawal_forgets_opens_clicks_and_dates_of_the_person_only(ctx, live_server):
    list_id = make_list(ctx)
    person, other = make_contacts(ctx, list_id, [1, 1])
    campaign_id, _ = make_campaign(ctx, list_id)
    for cid in (person, other):
        make_send(ctx, campaign_id, cid)
    fixed = ctx.now
    ctx.now = lambda: READ_AT  # the tracker reads the clock per hit; ingest kept its own
    with httpx2.Client(base_url=live_server.url, follow_redirects=False) as http:
        for cid in (person, other):
            opened = http.get(pixel_url(ctx, campaign_id, cid), headers={"User-Agent": UA})
            clicked = http.get(click_url(ctx, campaign_id, cid, 1), headers={"User-Agent": UA})
            assert (opened.status_code, clicked.status_code) == (200, 302)
        assert eventually(lambda: counted(ctx) == 4)
        ctx.now = fixed
        assert contact(ctx, person).last_click_date is not None
        if not ctx.db.is_postgres:
            assert READ_AT_TEXT in database_bytes(ctx)  # the needle finds stored events

        prefs = f"/preferences/{preferences_token(ctx, person)}"
        page = http.get(prefs).text
        form = {k: _hidden(page, k) for k in ("nonce", "csrf")}
        assert http.post(prefs, data={**form, "action": "withdraw"}).status_code == 200

        # the answer came after the commit: nothing of the person's reading is left
        forgotten = contact(ctx, person)
        assert (forgotten.last_open_date, forgotten.last_click_date) == (None, None)
        assert {(e["contact_id"], e["event"]) for e in rows(ctx, "personal_events")} == {
            (other, "open"),
            (other, "click"),
        }
        kept = contact(ctx, other)
        assert kept.last_open_date is not None and kept.last_click_date is not None

        # a later click in the mail sent personally is counted, attributed to nobody
        assert http.get(click_url(ctx, campaign_id, person, 2)).status_code == 302
        assert eventually(lambda: counted(ctx) == 5)
    assert all(e["contact_id"] == other for e in rows(ctx, "personal_events"))
    drops = {r["reason"]: r["n"] for r in rows(ctx, "hit_drops")}
    assert drops == {"withdrawn": 1}
    clicks = {(r["metric"], r["link_id"]): r["n"] for r in rows(ctx, "campaign_totals")}
    assert clicks[("link_clicks", 2)] == 1


def test_forgotten_events_leave_no_bytes_in_the_sqlite_file_or_its_log(ctx, live_server):
    if ctx.db.is_postgres:
        pytest.skip("SQLite's files; PostgreSQL never stored the requester (see store/db.py)")
    list_id = make_list(ctx)
    (person,) = make_contacts(ctx, list_id, [1])
    campaign_id, _ = make_campaign(ctx, list_id)
    make_send(ctx, campaign_id, person)
    fixed = ctx.now
    ctx.now = lambda: READ_AT
    with httpx2.Client(base_url=live_server.url) as http:
        http.get(pixel_url(ctx, campaign_id, person), headers={"User-Agent": UA})
        assert eventually(lambda: counted(ctx) == 1)
        ctx.now = fixed
        assert READ_AT_TEXT in database_bytes(ctx)
        prefs = f"/preferences/{preferences_token(ctx, person)}"
        page = http.get(prefs).text
        form = {k: _hidden(page, k) for k in ("nonce", "csrf")}
        assert http.post(prefs, data={**form, "action": "withdraw"}).status_code == 200
        assert READ_AT_TEXT not in database_bytes(ctx)
