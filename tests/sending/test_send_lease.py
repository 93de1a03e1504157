"""One process at a time sends a campaign (sending/lease.py): a second sender is refused and
changes nothing, a send whose process died is seen as stalled once its lease ran out and is
resumed without sending anyone twice, and a sender that lost its lease stops without touching
the campaign the new sender now runs."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from datetime import timedelta

import pytest

from clearpixel.sending import campaigns, lease
from clearpixel.sending.transports import OutboxTransport
from clearpixel.store import campaigns as campaign_store
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import rows
from tests.web.admin_session import csrf_of, signed_in

HTML = '<p>Hi</p><a href="https://shop.example.org/sale">sale</a>'


def campaign_for(ctx, n: int = 3):  # type: ignore[no-untyped-def]
    make_contacts(ctx, make_list(ctx), [1] * n)
    return campaigns.create_campaign(
        ctx, list_name="newsletter", kind="marketing", subject="Sale", html=HTML
    )


def hold(ctx, campaign_id: int, holder: str, *, for_: timedelta) -> None:  # type: ignore[no-untyped-def]
    now = ctx.now()
    with ctx.db.begin() as tx:
        assert campaign_store.take_send_lease(tx, campaign_id, holder, now=now, until=now + for_)


def sent_to(box) -> int:  # type: ignore[no-untyped-def]
    return len(list(box.glob("*.eml"))) if box.exists() else 0


def test_a_second_sender_is_refused_and_changes_nothing(ctx, tmp_path):
    found = campaign_for(ctx)
    hold(ctx, found.id, "elsewhere:1:abcd", for_=timedelta(minutes=2))
    box = tmp_path / "box"
    with pytest.raises(lease.SendBusy, match="being sent by another process"):
        campaigns.send_campaign(ctx, found.id, OutboxTransport(box))
    assert sent_to(box) == 0 and rows(ctx, "sends") == []
    assert campaigns.get_campaign(ctx, found.id).status == "draft"


def test_a_send_whose_lease_ran_out_is_resumed_and_the_lease_given_back(ctx, tmp_path):
    found = campaign_for(ctx)
    hold(ctx, found.id, "gone:1:abcd", for_=timedelta(seconds=-1))  # its process died
    box = tmp_path / "box"
    report = campaigns.send_campaign(ctx, found.id, OutboxTransport(box))
    assert report.sent == 3 and sent_to(box) == 3
    after = campaigns.get_campaign(ctx, found.id)
    assert after.status == "sent" and after.send_lease_until is None


def test_two_senders_at_once_send_each_recipient_once(ctx, tmp_path):
    found = campaign_for(ctx, 10)
    box = tmp_path / "box"
    first: list[object] = []
    running = threading.Thread(
        target=lambda: first.append(
            campaigns.send_campaign(ctx, found.id, OutboxTransport(box), rate=20)
        )
    )
    running.start()
    deadline = time.monotonic() + 10
    while campaigns.get_campaign(ctx, found.id).send_lease_until is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(lease.SendBusy):
        campaigns.send_campaign(ctx, found.id, OutboxTransport(tmp_path / "other"))
    running.join(timeout=30)
    assert first and sent_to(box) == 10 and sent_to(tmp_path / "other") == 0
    assert campaigns.get_campaign(ctx, found.id).status == "sent"


def test_a_sender_that_lost_its_lease_stops_and_leaves_the_campaign_alone(
    ctx, tmp_path, monkeypatch
):
    monkeypatch.setattr(lease, "RENEW_EVERY", 0.05)
    found = campaign_for(ctx, 40)
    box = tmp_path / "box"
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            campaigns.send_campaign(ctx, found.id, OutboxTransport(box), rate=40)
        except BaseException as exc:
            outcome.append(exc)

    running = threading.Thread(target=run)
    running.start()
    while sent_to(box) < 3:
        time.sleep(0.01)
    with ctx.db.begin() as tx:  # as if this sender had been frozen past its lease
        campaign_store.release_send_lease(tx, found.id, _holder(ctx, found.id))
    hold(ctx, found.id, "new:2:beef", for_=timedelta(minutes=2))
    running.join(timeout=30)
    assert outcome and isinstance(outcome[0], lease.SendBusy)
    assert sent_to(box) < 40
    assert campaigns.get_campaign(ctx, found.id).status == "sending"  # the new sender's


def _holder(ctx, campaign_id: int) -> str:  # type: ignore[no-untyped-def]
    (row,) = [r for r in rows(ctx, "campaigns") if r["id"] == campaign_id]
    return str(row["send_lease_holder"])


def test_the_admin_offers_to_resume_a_stalled_send(ctx, tmp_path):
    found = campaign_for(ctx)
    with ctx.db.begin() as tx:  # left `sending` by a process that died, its lease run out
        campaign_store.set_status(tx, found.id, campaign_store.SENDING)
    hold(ctx, found.id, "gone:1:abcd", for_=timedelta(seconds=-1))
    editor = signed_in(ctx, "ed@example.org", "correct horse battery", role="editor")
    page = editor.get(f"/admin/campaigns/{found.id}")
    assert 'id="stalled"' in page.text and 'id="send"' in page.text
    editor.post(f"/admin/campaigns/{found.id}/send", data={"csrf": csrf_of(page.text)})
    deadline = time.monotonic() + 30
    while campaigns.get_campaign(ctx, found.id).status != "sent":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    hold(ctx, found.id, "busy:1:abcd", for_=timedelta(minutes=2))
    with ctx.db.begin() as tx:
        campaign_store.set_status(tx, found.id, campaign_store.SENDING)
    live = editor.get(f"/admin/campaigns/{found.id}")
    assert 'id="stalled"' not in live.text and 'id="send"' not in live.text


def test_a_lease_of_a_process_of_this_machine_that_is_gone_is_taken_at_once(ctx, tmp_path):
    found = campaign_for(ctx)
    dead = f"{socket.gethostname()[:48]}:{_pid_of_ended()}:abcd"
    hold(ctx, found.id, dead, for_=timedelta(minutes=2))
    alive = f"{socket.gethostname()[:48]}:{os.getpid()}:abcd"  # this one still runs
    other = campaign_for_second(ctx)
    hold(ctx, other.id, alive, for_=timedelta(minutes=2))
    box = tmp_path / "box"
    assert campaigns.send_campaign(ctx, found.id, OutboxTransport(box)).sent == 3
    with pytest.raises(lease.SendBusy):
        campaigns.send_campaign(ctx, other.id, OutboxTransport(tmp_path / "other"))


def _pid_of_ended() -> int:
    """The pid of a process that has ended (and been reaped: no process has it now)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def campaign_for_second(ctx):  # type: ignore[no-untyped-def]
    return campaigns.create_campaign(
        ctx, list_name="newsletter", kind="marketing", subject="Other", html=HTML
    )
