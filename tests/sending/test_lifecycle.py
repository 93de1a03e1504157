"""Campaigns never stuck: a recipient whose render or delivery fails is recorded with its
reason and the send goes on; every run ends `sent`, `failed` or `cancelled`; `campaign cancel`
from elsewhere stops a running send and `campaign send` resumes it; only a draft can be
deleted; `campaign ls` and the send report show failures and skipped recipients by reason.
Addresses with a non-ASCII domain or local part over real SMTP (aiosmtpd)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from clearpixel.domain.errors import ClearpixelError
from clearpixel.sending import campaigns
from clearpixel.sending.transports import OutboxTransport, SmtpConfig, SmtpTransport
from clearpixel.store.contacts import set_cooldown, set_status
from clearpixel.store.sends import count_by_status
from tests.conftest import FIXED_NOW
from tests.helpers import make_list
from tests.sending.conftest import Handler, SmtpServer, add_contacts
from tests.sending.messages import parse

HTML = (
    "<html><body><p>Hi {{ email }}</p>"
    "{% for i in range(n|int // 100) %}{% for j in range(n|int // 100) %}{% endfor %}"
    "{% endfor %}<a href='https://shop.example/a'>a</a></body></html>"
)


def _campaign(ctx, people, *, kind="marketing", html=HTML):  # type: ignore[no-untyped-def]
    list_id = make_list(ctx)
    ids = add_contacts(ctx, list_id, people)
    campaign = campaigns.create_campaign(
        ctx, list_name="newsletter", kind=kind, subject="Hello", html=html
    )
    return campaign, ids


def test_a_recipient_that_fails_is_recorded_and_the_send_goes_on(ctx, tmp_path, cli):
    campaign, _ = _campaign(
        ctx,
        [
            ("ok1@example.org", None, {"n": "1"}),
            ("loops@example.org", None, {"n": "99999"}),  # 999 x 999 iterations: loop limit
            ("bad@exa_mple..example", None, {"n": "1"}),
            ("ü@-bad-.example", None, {"n": "1"}),  # a domain IDNA cannot write
            ("ok2@example.org", None, {"n": "1"}),
        ],
    )
    report = campaigns.send_campaign(ctx, campaign.id, OutboxTransport(tmp_path / "box"))
    assert report.sent == 3 and report.failed == 2
    assert report.status == "sent" and report.status_detail == "2 recipient(s) failed"
    reasons = dict(report.failures)
    assert "loop limit" in reasons["loops@example.org"]
    assert "not a valid name" in reasons["ü@-bad-.example"]
    import json

    [listed] = json.loads(cli("campaign", "ls", "--json").output)
    assert listed["status"] == "sent" and listed["status_detail"] == "2 recipient(s) failed"
    assert listed["recipients"] == {"sent": 3, "failed": 2}
    assert "failed" in cli("campaign", "ls").output
    again = cli("campaign", "send", str(campaign.id), "--outbox", str(tmp_path / "box"))
    assert "0 sent now" in again.output and "status: sent" in again.output


def test_when_every_recipient_fails_the_campaign_is_failed(ctx, tmp_path):
    campaign, _ = _campaign(ctx, [("loops@example.org", None, {"n": "99999"})])
    report = campaigns.send_campaign(ctx, campaign.id, OutboxTransport(tmp_path / "box"))
    assert report.status == "failed" and "every recipient failed" in report.status_detail
    assert campaigns.get_campaign(ctx, campaign.id).status == "failed"


def test_cancel_from_elsewhere_stops_a_running_send_and_send_resumes_it(ctx, tmp_path):
    people = [(f"p{i}@example.org", None, {"n": "1"}) for i in range(400)]
    campaign, _ = _campaign(ctx, people)
    box = tmp_path / "box"
    outcome: list[object] = []

    def run() -> None:
        outcome.append(campaigns.send_campaign(ctx, campaign.id, OutboxTransport(box), rate=100))

    sender = threading.Thread(target=run)
    sender.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with ctx.db.connect() as conn:
            if count_by_status(conn, campaign.id).get("sent", 0) >= 20:
                break
        time.sleep(0.05)
    cancelled = campaigns.cancel_campaign(ctx, campaign.id)
    assert cancelled.status == "cancelled"
    sender.join(timeout=60)
    report = outcome[0]
    assert report.status == "cancelled"  # type: ignore[attr-defined]
    with ctx.db.connect() as conn:
        counts = count_by_status(conn, campaign.id)
    assert counts.get("pending", 0) > 0 and counts["sent"] < 400
    assert len(list(box.glob("*.eml"))) == counts["sent"]
    resumed = campaigns.send_campaign(ctx, campaign.id, OutboxTransport(box))
    assert resumed.status == "sent"
    with ctx.db.connect() as conn:
        assert count_by_status(conn, campaign.id) == {"sent": 400}
    assert len(list(box.glob("*.eml"))) == 400


def test_cancel_and_delete_only_where_they_mean_something(ctx, tmp_path, cli):
    campaign, _ = _campaign(ctx, [("a@example.org", None, {"n": "1"})])
    with pytest.raises(ClearpixelError, match="draft: nothing is being sent"):
        campaigns.cancel_campaign(ctx, campaign.id)
    campaigns.send_campaign(ctx, campaign.id, OutboxTransport(tmp_path / "box"))
    refused = cli("campaign", "delete", str(campaign.id), ok=False)
    assert refused.exit_code == 2 and "only a draft can be deleted" in refused.output
    draft = campaigns.create_campaign(
        ctx, list_name="newsletter", kind="marketing", subject="s", html="<p>x</p>"
    )
    assert "deleted" in cli("campaign", "delete", str(draft.id)).output
    assert [c.id for c in campaigns.all_campaigns(ctx)] == [campaign.id]
    again = campaigns.create_campaign(
        ctx, list_name="newsletter", kind="marketing", subject="s", html="<p>x</p>"
    )
    assert again.id > draft.id, "a deleted draft's id is never reused"


def test_send_reports_skipped_recipients_by_reason_in_cli_and_api(ctx, cli, tmp_path):
    html = "<p>{{ email }} <a href='{{ consent_url }}'>choose</a></p>"
    campaign, ids = _campaign(
        ctx,
        [
            ("asked@example.org", None, {}),
            ("consents@example.org", 1, {}),
            ("cooling@example.org", 0, {}),
            ("gone@example.org", None, {}),
        ],
        kind="consent_request",
        html=html,
    )
    with ctx.db.begin() as tx:
        # the CLI runs on the real clock
        later = datetime.now(UTC) + timedelta(days=30)
        set_cooldown(tx, [ids["cooling@example.org"]], later)
        set_status(tx, ids["gone@example.org"], "unsubscribed", now=FIXED_NOW)
    out = cli("campaign", "send", str(campaign.id), "--outbox", str(tmp_path / "b")).output
    assert (
        "not sent to: 1 already consents, 1 in consent-request cool-down, 1 unsubscribed" in out
    ), out

    from fastapi.testclient import TestClient

    from clearpixel.accounts import api_keys
    from clearpixel.web.app import create_app

    second = campaigns.create_campaign(
        ctx, list_name="newsletter", kind="consent_request", subject="s", html=html
    )
    _, key = api_keys.create_api_key(ctx, "t")
    with TestClient(create_app(ctx)) as client:
        sent = client.post(
            f"/api/v1/campaigns/{second.id}/send", headers={"Authorization": f"Bearer {key}"}
        ).json()
    assert sent["skipped_by_reason"] == {
        "already consents": 1,
        "in consent-request cool-down": 2,  # the first request started one for asked@
        "unsubscribed": 1,
    }
    assert sent["status"] == "draft" and sent["status_detail"] == "no eligible recipient yet"


@pytest.fixture(params=[True, False], ids=["smtputf8", "no-smtputf8"])
def utf8_server(request):  # type: ignore[no-untyped-def]
    server = SmtpServer(Handler(), enable_SMTPUTF8=request.param)
    server.controller.start()
    yield server, request.param
    server.controller.stop()


def test_non_ascii_addresses_over_smtp(ctx, utf8_server):
    server, offers_utf8 = utf8_server
    campaign, _ = _campaign(
        ctx,
        [
            ("anna@bücher.example", None, {"n": "1"}),
            ("jörg@bücher.example", None, {"n": "1"}),
        ],
    )
    report = campaigns.send_campaign(ctx, campaign.id, SmtpTransport(SmtpConfig.parse(server.url)))
    by_rcpt = {m.recipients[0]: m for m in server.messages}
    assert "anna@xn--bcher-kva.example" in by_rcpt, "the domain goes out in IDNA"
    message = parse(by_rcpt["anna@xn--bcher-kva.example"].data)
    assert message["To"].addresses[0].domain == "xn--bcher-kva.example"
    if offers_utf8:
        assert report.sent == 2
        assert "jörg@xn--bcher-kva.example" in by_rcpt
    else:
        assert report.sent == 1 and report.failed == 1
        assert "does not offer SMTPUTF8" in dict(report.failures)["jörg@bücher.example"]
