"""Scheduled sends: the served app's own runner starts a campaign when its time comes and
mails every recipient once through a real SMTP server (aiosmtpd); of several runners racing
for one due campaign exactly one claims it; the send-time checks run when it starts, so a
campaign whose template no longer passes then ends `failed` with the reason and sends
nothing; a time in the past is refused; a scheduled campaign is neither sent by hand,
cancelled, edited nor archived."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.i18n import format_planned
from clearpixel.sending import campaigns, schedule
from clearpixel.store.schema import campaigns as campaigns_table
from clearpixel.web.admin_jobs import Jobs
from clearpixel.web.app import create_app
from clearpixel.web.periodic import start_due_once
from clearpixel.web.server import ThreadedServer
from tests.conftest import FIXED_NOW
from tests.helpers import make_contacts, make_list

HTML = "<p>Hello</p><p><a href='https://shop.example.org/sale'>Sale</a></p>"


def _campaign(ctx: Context, consents: list[int | None]) -> int:
    list_id = make_list(ctx)
    make_contacts(ctx, list_id, consents)
    return campaigns.create_campaign(
        ctx, list_name="newsletter", kind="marketing", subject="News", html=HTML
    ).id


def _wait(predicate, what: str, seconds: float = 30):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not (found := predicate()):
        assert time.monotonic() < deadline, what
        time.sleep(0.02)
    return found


def test_the_served_runner_starts_a_due_campaign_and_mails_each_recipient_once(ctx, smtp_server):
    campaign_id = _campaign(ctx, [1, None, 0, None])
    clock = [FIXED_NOW]
    served = Context(
        settings=ctx.settings.model_copy(
            update={"smtp_url": smtp_server.url, "schedule_check_seconds": 0.05}
        ),
        db=ctx.db,
        now=lambda: clock[0],
    )
    at = FIXED_NOW + timedelta(hours=1)
    scheduled = schedule.schedule_campaign(served, campaign_id, at)
    assert scheduled.status == "scheduled" and scheduled.scheduled_at == at
    with TestClient(create_app(served), base_url="http://127.0.0.1"):
        time.sleep(0.3)  # several turns of the runner before the time: nothing starts
        assert campaigns.get_campaign(ctx, campaign_id).status == "scheduled"
        assert smtp_server.messages == []
        clock[0] = at + timedelta(seconds=1)
        _wait(lambda: campaigns.get_campaign(ctx, campaign_id).status == "sent", "sent")
    recipients = sorted(r for m in smtp_server.messages for r in m.recipients)
    assert recipients == [f"person{i}@example.org" for i in range(4)]
    assert campaigns.send_counts(ctx)[campaign_id] == {"sent": 4}
    assert campaigns.sent_by_mode(ctx, campaign_id) == {"personal": 1, "anonymous": 3}


def test_runners_racing_for_one_due_campaign_claim_it_once(ctx):
    campaign_id = _campaign(ctx, [None])
    schedule.schedule_campaign(ctx, campaign_id, FIXED_NOW + timedelta(minutes=5))
    later = FIXED_NOW + timedelta(minutes=6)
    start = threading.Barrier(6)
    claimed: list[list[int]] = []

    def runner() -> None:
        start.wait()
        claimed.append([c.id for c in schedule.claim_due(ctx, later)])

    threads = [threading.Thread(target=runner) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed, key=len) == [[]] * 5 + [[campaign_id]]
    assert campaigns.get_campaign(ctx, campaign_id).status == "sending"
    assert schedule.claim_due(ctx, later) == []


def test_a_campaign_whose_template_no_longer_passes_at_start_fails_and_sends_nothing(
    ctx, smtp_server
):
    campaign_id = _campaign(ctx, [1, None])
    schedule.schedule_campaign(ctx, campaign_id, FIXED_NOW + timedelta(minutes=1))
    with ctx.db.begin() as tx:  # what an upgrade with a stricter check, or a restore, finds
        tx.execute(
            campaigns_table.update()
            .where(campaigns_table.c.id == campaign_id)
            .values(html='<p>Hi</p><img src="https://cdn.example.org/{{ contact.email }}.png">')
        )
    served = Context(
        settings=ctx.settings.model_copy(update={"smtp_url": smtp_server.url}),
        db=ctx.db,
        now=ctx.now,
    )
    jobs = Jobs()
    assert start_due_once(served, jobs, FIXED_NOW + timedelta(minutes=2)) == [campaign_id]
    job = jobs.get(f"send-{campaign_id}")
    _wait(lambda: job.finished, "the job ends")
    found = campaigns.get_campaign(ctx, campaign_id)
    assert found.status == "failed"
    assert found.status_detail.startswith("the scheduled send did not start")
    assert "depends on the recipient" in found.status_detail
    assert campaigns.send_counts(ctx).get(campaign_id) is None, "no recipient recorded"
    assert smtp_server.messages == []


def test_a_time_in_the_past_is_refused_and_changes_nothing(ctx):
    campaign_id = _campaign(ctx, [None])
    with pytest.raises(ClearpixelError, match="is in the past"):
        schedule.schedule_campaign(ctx, campaign_id, FIXED_NOW - timedelta(minutes=1))
    with pytest.raises(ClearpixelError, match="is in the past"):
        schedule.schedule_campaign(ctx, campaign_id, FIXED_NOW)
    found = campaigns.get_campaign(ctx, campaign_id)
    assert found.status == "draft" and found.scheduled_at is None


def test_a_scheduled_campaign_is_not_sent_cancelled_or_archived_until_unscheduled(ctx, tmp_path):
    campaign_id = _campaign(ctx, [None])
    schedule.schedule_campaign(ctx, campaign_id, FIXED_NOW + timedelta(days=1))
    with pytest.raises(ClearpixelError, match="unschedule it first"):
        campaigns.send_campaign(ctx, campaign_id, None)  # type: ignore[arg-type]
    with pytest.raises(ClearpixelError, match="unschedule it instead"):
        campaigns.cancel_campaign(ctx, campaign_id)
    with pytest.raises(ClearpixelError, match="unschedule it first"):
        campaigns.archive_campaign(ctx, campaign_id)
    with pytest.raises(ClearpixelError, match="only a draft can be deleted"):
        campaigns.delete_campaign(ctx, campaign_id)
    moved = schedule.schedule_campaign(ctx, campaign_id, FIXED_NOW + timedelta(days=2))
    assert moved.scheduled_at == FIXED_NOW + timedelta(days=2)
    back = schedule.unschedule_campaign(ctx, campaign_id)
    assert back.status == "draft" and back.scheduled_at is None
    with pytest.raises(ClearpixelError, match="not scheduled"):
        schedule.unschedule_campaign(ctx, campaign_id)
    assert schedule.claim_due(ctx, FIXED_NOW + timedelta(days=3)) == []


def test_times_are_read_and_shown_in_the_installation_zone():
    paris = ZoneInfo("Europe/Paris")
    assert schedule.parse_time("2026-12-01T09:00+01:00", paris) == datetime(
        2026, 12, 1, 8, 0, tzinfo=UTC
    )
    assert schedule.parse_time("2026-12-01 09:00", paris) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert schedule.parse_time("2026-12-01T08:00Z", paris) == datetime(
        2026, 12, 1, 8, 0, tzinfo=UTC
    )
    with pytest.raises(ClearpixelError, match="not a date and time"):
        schedule.parse_time("tomorrow at nine", paris)
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert schedule.shown(at, paris) == "2026-12-01 09:00 Europe/Paris (2026-12-01 08:00 UTC)"
    assert schedule.shown(at, ZoneInfo("UTC")) == "2026-12-01 08:00 UTC"
    # the admin writes it in the reader's language, the same zone and UTC beside it
    assert format_planned(at, paris, "fr") == (
        "1 déc. 2026, 09:00 Europe/Paris (1 déc. 2026, 08:00 UTC)"
    )
    assert format_planned(at, ZoneInfo("UTC"), "en") == "Dec 1, 2026, 08:00 UTC"


def test_with_nats_a_scheduled_send_publishes_its_links_for_the_tracking_nodes(ctx, tmp_path):
    from tests.ingest.builders import click_url
    from tests.ingest.nats_helpers import (
        get,
        node_context,
        remove_stream_and_bucket,
        tracking_node,
        with_nats,
    )

    nctx = with_nats(ctx)
    try:
        list_id = make_list(nctx)
        (contact,) = make_contacts(nctx, list_id, [1])
        campaign_id = campaigns.create_campaign(
            nctx, list_name="newsletter", kind="marketing", subject="News", html=HTML
        ).id
        schedule.schedule_campaign(nctx, campaign_id, FIXED_NOW + timedelta(minutes=1))
        jobs = Jobs()
        assert start_due_once(nctx, jobs, FIXED_NOW + timedelta(minutes=1)) == [campaign_id]
        _wait(lambda: jobs.get(f"send-{campaign_id}").finished, "the job ends")
        assert campaigns.get_campaign(ctx, campaign_id).status == "sent"
        node = node_context(nctx, tmp_path / "node")
        with ThreadedServer(node, app=tracking_node(node)) as server:
            (click,) = get(server.port, [click_url(nctx, campaign_id, contact, 1)])
        assert click[0] == 302 and click[1]["location"] == "https://shop.example.org/sale"
    finally:
        remove_stream_and_bucket(nctx)
