"""Scheduled sends through real `clearpixel serve` processes and a real SMTP server
(aiosmtpd): a campaign scheduled with the CLI is started by the server at its time; two
servers on one database racing for the campaigns scheduled through the API send each once,
every recipient once; a time in the past is refused by the CLI and the API; the archive
through the CLI and the API; an auditor can neither schedule nor archive."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from fastapi.testclient import TestClient

from clearpixel.accounts import api_keys, users
from clearpixel.sending import campaigns
from clearpixel.sending.transports import OutboxTransport
from clearpixel.web.app import create_app
from tests.conftest import Cli
from tests.helpers import make_contacts, make_list
from tests.sending.conftest import Handler, SmtpServer
from tests.web.served import serve

HTML = "<p>Hello</p><p><a href='https://shop.example.org/sale'>Sale</a></p>"
PASSWORD = "a long enough passphrase"


@pytest.fixture
def smtp_server():
    server = SmtpServer(Handler())
    server.controller.start()
    yield server
    server.controller.stop()


def _server_env(cli_env: dict[str, str], smtp_url: str) -> dict[str, str]:
    return {**cli_env, "CLEARPIXEL_SMTP_URL": smtp_url, "CLEARPIXEL_SCHEDULE_CHECK_SECONDS": "0.05"}


def _wait(predicate, what: str, seconds: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not (found := predicate()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return found


def _new(ctx, list_name: str) -> int:  # type: ignore[no-untyped-def]
    return campaigns.create_campaign(
        ctx, list_name=list_name, kind="marketing", subject=f"News {list_name}", html=HTML
    ).id


def test_a_campaign_scheduled_with_the_cli_is_sent_by_serve_at_its_time(
    ctx, cli, cli_env, smtp_server, tmp_path
):
    make_contacts(ctx, make_list(ctx), [1, None, 0])
    campaign_id = _new(ctx, "newsletter")
    at = (datetime.now(UTC) + timedelta(seconds=4)).astimezone().isoformat(timespec="seconds")
    said = cli("campaign", "send", str(campaign_id), "--at", at).output
    assert f"campaign {campaign_id} scheduled for" in said and "UTC" in said
    [listed] = json.loads(cli("campaign", "ls", "--json").output)
    assert listed["status"] == "scheduled"
    assert datetime.fromisoformat(listed["scheduled_at"]) == datetime.fromisoformat(at)
    wide = Cli({**cli_env, "COLUMNS": "200"})("campaign", "ls").output
    assert f"scheduled for {datetime.fromisoformat(at).astimezone(UTC):%Y-%m-%d %H:%M} UTC" in wide
    with serve(_server_env(cli_env, smtp_server.url), tmp_path):
        _wait(lambda: campaigns.get_campaign(ctx, campaign_id).status == "sent", "sent")
        assert datetime.now(UTC) >= datetime.fromisoformat(at), "not before its time"
    recipients = sorted(r for m in smtp_server.messages for r in m.recipients)
    assert recipients == [f"person{i}@example.org" for i in range(3)]


def test_two_servers_racing_send_each_scheduled_campaign_once(ctx, cli_env, smtp_server, tmp_path):
    names = ["one", "two", "three"]
    for name in names:
        make_contacts(ctx, make_list(ctx, name), [None] * 10)
    ids = [_new(ctx, name) for name in names]
    _, key = api_keys.create_api_key(ctx, "scheduler", role="editor")
    auth = {"Authorization": f"Bearer {key}"}
    env = _server_env(cli_env, smtp_server.url)
    with serve(env, tmp_path) as first, serve(env, tmp_path) as second:
        at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        for campaign_id, port in zip(ids, [first.port, second.port, first.port], strict=True):
            answer = httpx2.post(
                f"http://127.0.0.1:{port}/api/v1/campaigns/{campaign_id}/schedule",
                json={"at": at},
                headers=auth,
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "scheduled"
        for campaign_id in ids:
            _wait(lambda c=campaign_id: campaigns.get_campaign(ctx, c).status == "sent", "sent")
            progress = httpx2.get(
                f"http://127.0.0.1:{second.port}/api/v1/campaigns/{campaign_id}", headers=auth
            ).json()
            assert progress["recipients"] == {"sent": 10}, "read from the stored figures"
    delivered = Counter(
        (m.data.split(b"Subject: ")[1].split(b"\r\n")[0], r)
        for m in smtp_server.messages
        for r in m.recipients
    )
    assert len(delivered) == 30 and set(delivered.values()) == {1}, delivered


def test_a_time_in_the_past_is_refused_by_the_cli_and_the_api(ctx, cli):
    make_contacts(ctx, make_list(ctx), [None])
    campaign_id = _new(ctx, "newsletter")
    refused = cli("campaign", "schedule", str(campaign_id), "--at", "2020-01-01T09:00", ok=False)
    assert refused.exit_code == 2
    assert "is in the past" in refused.output and "UTC" in refused.output
    refused = cli(
        "campaign", "send", str(campaign_id), "--at", "2027-01-01T09:00Z", "--rate", "5", ok=False
    )
    assert "--at schedules the send for `clearpixel serve`" in refused.output
    refused = cli("campaign", "schedule", str(campaign_id), "--at", "next tuesday", ok=False)
    assert "is not a date and time" in refused.output
    _, key = api_keys.create_api_key(ctx, "scheduler", role="editor")
    with TestClient(create_app(ctx)) as client:
        answer = client.post(
            f"/api/v1/campaigns/{campaign_id}/schedule",
            json={"at": "2026-01-01T09:00:00+01:00"},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert answer.status_code == 400 and "is in the past" in answer.json()["error"]["message"]
    assert campaigns.get_campaign(ctx, campaign_id).status == "draft"


def test_archive_and_restore_through_the_cli_and_the_api(ctx, cli, tmp_path):
    make_contacts(ctx, make_list(ctx), [None, 1])
    sent_id, draft_id = _new(ctx, "newsletter"), _new(ctx, "newsletter")
    campaigns.send_campaign(ctx, sent_id, OutboxTransport(tmp_path / "box"))
    refused = cli("campaign", "archive", str(draft_id), ok=False)
    assert "a draft is deleted, not archived" in refused.output
    assert "archived" in cli("campaign", "archive", str(sent_id)).output
    listed = [c["id"] for c in json.loads(cli("campaign", "ls", "--json").output)]
    assert listed == [draft_id]
    [archived] = json.loads(cli("campaign", "ls", "--json", "--archived").output)
    assert archived["id"] == sent_id and archived["recipients"] == {"sent": 2}
    _, key = api_keys.create_api_key(ctx, "editor", role="editor")
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(ctx)) as client:
        ids = [c["id"] for c in client.get("/api/v1/campaigns", headers=auth).json()["items"]]
        assert ids == [draft_id]
        found = client.get("/api/v1/campaigns?archived=true", headers=auth).json()["items"]
        assert [c["id"] for c in found] == [sent_id] and found[0]["archived_at"]
        report = client.get(f"/api/v1/campaigns/{sent_id}/report", headers=auth)
        assert report.status_code == 200, "the report of an archived campaign stays"
        restored = client.post(f"/api/v1/campaigns/{sent_id}/restore", headers=auth).json()
        assert restored["archived_at"] is None
        again = client.post(f"/api/v1/campaigns/{sent_id}/archive", headers=auth).json()
        assert again["archived_at"] is not None
        refused = client.post(f"/api/v1/campaigns/{draft_id}/archive", headers=auth)
        assert refused.status_code == 400
    assert "restored" in cli("campaign", "restore", str(sent_id)).output
    assert sorted(c["id"] for c in json.loads(cli("campaign", "ls", "--json").output)) == [
        sent_id,
        draft_id,
    ]


def test_an_auditor_can_neither_schedule_nor_archive(ctx, tmp_path):
    make_contacts(ctx, make_list(ctx), [None])
    sent_id, draft_id = _new(ctx, "newsletter"), _new(ctx, "newsletter")
    campaigns.send_campaign(ctx, sent_id, OutboxTransport(tmp_path / "box"))
    _, key = api_keys.create_api_key(ctx, "dpo", role="auditor")
    auth = {"Authorization": f"Bearer {key}"}
    users.create_user(ctx, "audrey@example.org", role="auditor", password=PASSWORD)
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as client:
        later = {"at": "2027-01-01T09:00:00+00:00"}
        api = f"/api/v1/campaigns/{draft_id}"
        assert client.post(f"{api}/schedule", json=later, headers=auth).status_code == 403
        assert client.post(f"{api}/unschedule", headers=auth).status_code == 403
        assert client.post(f"/api/v1/campaigns/{sent_id}/archive", headers=auth).status_code == 403
        assert client.post(f"/api/v1/campaigns/{sent_id}/restore", headers=auth).status_code == 403
        login = client.get("/admin/login").text
        csrf = login.split('name="csrf" value="')[1].split('"')[0]
        client.post(
            "/admin/login",
            data={"username": "audrey@example.org", "password": PASSWORD, "csrf": csrf},
        )
        page = client.get(f"/admin/campaigns/{sent_id}").text
        assert 'id="archive"' not in page
        csrf = page.split('name="csrf" value="')[1].split('"')[0] if 'name="csrf"' in page else ""
        for path, data in (
            (f"/admin/campaigns/{draft_id}/schedule", {"at": "2027-01-01T09:00"}),
            (f"/admin/campaigns/{sent_id}/archive", {}),
        ):
            answer = client.post(path, data={**data, "csrf": csrf}, follow_redirects=False)
            assert answer.status_code == 403, path
    assert campaigns.get_campaign(ctx, draft_id).status == "draft"
    assert campaigns.get_campaign(ctx, sent_id).archived_at is None
