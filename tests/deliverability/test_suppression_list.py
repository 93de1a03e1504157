"""The suppression list as operators meet it: CLI and API add, list, remove (with an actor
and a reason, logged) and export; inactivity suppression lands in the same list; the campaign
report shows bounces and complaints with their rates."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from fastapi.testclient import TestClient

from clearpixel.accounts import api_keys
from clearpixel.deliverability import suppression
from clearpixel.sending import campaigns
from clearpixel.sending.transports import OutboxTransport, SmtpConfig, SmtpTransport
from clearpixel.store.schema import contacts
from clearpixel.web.app import create_app
from tests.helpers import make_list
from tests.sending.conftest import add_contacts

HTML = "<html><body><p>Hello</p></body></html>"


def test_cli_add_ls_rm_export_and_the_log(ctx, cli, tmp_path):
    cli("suppression", "add", " Ada@Example.org ", "--reason", "manual", "--note", "by phone")
    again = cli("suppression", "add", "ada@example.org", "--reason", "complaint")
    assert "already suppressed" in again.output
    cli("suppression", "add", "bob@example.org", "--reason", "unsubscribed_everywhere")
    listed = json.loads(cli("suppression", "ls", "--json").output)
    assert [(s["address"], s["reason"]) for s in listed] == [
        ("ada@example.org", "manual"),
        ("bob@example.org", "unsubscribed_everywhere"),
    ]
    assert listed[0]["evidence"] == {"note": "by phone"}
    assert listed[0]["actor"].startswith("cli:")
    only = json.loads(cli("suppression", "ls", "--reason", "manual", "--json").output)
    assert [s["address"] for s in only] == ["ada@example.org"]

    refused = cli("suppression", "rm", "ada@example.org", "--reason", " ", ok=False)
    assert refused.exit_code == 2 and "say why" in refused.output
    cli("suppression", "rm", "ADA@example.org", "--reason", "owner confirmed", "--actor", "dpo")
    assert suppression.lookup(ctx, "ada@example.org") is None
    log = suppression.history(ctx, "ada@example.org")
    assert [(e.action, e.reason, e.actor) for e in log][1] == ("remove", "owner confirmed", "dpo")
    assert log[0].action == "add" and log[0].reason == "manual"

    out = tmp_path / "s.csv"
    cli("suppression", "export", "-o", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["address"], r["reason"]) for r in rows] == [
        ("bob@example.org", "unsubscribed_everywhere")
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "not-an-address", "--reason", "manual"], "is not an email address"),
        (["add", "x@example.org", "--reason", "because"], "unknown suppression reason"),
        (["rm", "nobody@example.org", "--reason", "r"], "is not on the suppression list"),
        (["ls", "--reason", "bounced"], "unknown suppression reason"),
    ],
)
def test_cli_errors_name_the_problem_and_change_nothing(ctx, cli, args, message):
    result = cli("suppression", *args, ok=False)
    assert result.exit_code == 2 and message in result.output
    assert suppression.listing(ctx) == []


def test_api_add_list_remove_export_with_the_key_as_actor(ctx):
    api_key, key = api_keys.create_api_key(ctx, "crm")
    key_id = api_key.id
    with TestClient(create_app(ctx)) as client:
        assert client.get("/api/v1/suppressions").status_code == 401
        client.headers["Authorization"] = f"Bearer {key}"
        created = client.post(
            "/api/v1/suppressions", json={"email": "Cy@Example.org", "reason": "manual"}
        )
        assert created.status_code == 201, created.text
        assert created.json()["actor"] == f"api:key{key_id}"
        bad = client.post("/api/v1/suppressions", json={"email": "no-at-sign", "reason": "manual"})
        assert bad.status_code == 400
        page = client.get("/api/v1/suppressions").json()
        assert [s["address"] for s in page["items"]] == ["cy@example.org"]
        export = client.get("/api/v1/suppressions/export")
        assert export.headers["content-type"].startswith("text/csv")
        assert "cy@example.org,manual" in export.text
        only = client.get("/api/v1/suppressions/export", params={"reason": "complaint"})
        assert only.text.splitlines() == ["address,reason,since,actor,evidence"]
        unknown = client.get("/api/v1/suppressions/export", params={"reason": "nope"})
        assert unknown.status_code == 400
        assert "unknown suppression reason" in unknown.json()["error"]["message"]
        missing = client.post("/api/v1/suppressions/cy@example.org/remove", json={})
        assert missing.status_code == 422
        gone = client.post(
            "/api/v1/suppressions/cy@example.org/remove", json={"reason": "typo fixed"}
        )
        assert gone.status_code == 204
        again = client.post(
            "/api/v1/suppressions/cy@example.org/remove", json={"reason": "typo fixed"}
        )
        assert again.status_code == 404
    (_, removal) = suppression.history(ctx, "cy@example.org")
    assert (removal.action, removal.actor, removal.reason) == (
        "remove",
        f"api:key{key_id}",
        "typo fixed",
    )


def test_suppress_inactive_lists_the_inactive_with_their_own_reason(ctx, tmp_path):
    list_id = make_list(ctx)
    ids = add_contacts(ctx, list_id, [("old@example.org", 1, {}), ("new@example.org", 1, {})])
    with ctx.db.begin() as tx:
        tx.execute(
            contacts.update()
            .where(contacts.c.id == ids["old@example.org"])
            .values(last_open_date=date(2025, 1, 1))
        )
    campaign = campaigns.create_campaign(
        ctx, list_name="newsletter", kind="marketing", subject="Hello", html=HTML
    )
    campaigns.send_campaign(ctx, campaign.id, OutboxTransport(tmp_path), suppress_inactive_days=90)
    listed = suppression.lookup(ctx, "old@example.org")
    assert listed is not None and listed.reason == "inactive"
    assert listed.actor == f"campaign:{campaign.id}"
    assert suppression.lookup(ctx, "new@example.org") is None
    # the next campaign, without --suppress-inactive, skips it too
    second = campaigns.create_campaign(
        ctx, list_name="newsletter", kind="marketing", subject="Again", html=HTML
    )
    report = campaigns.send_campaign(ctx, second.id, OutboxTransport(tmp_path / "2"))
    assert (report.sent, report.skipped) == (1, 1)


def test_outbox_files_carry_the_return_path(bctx, tmp_path):
    list_id = make_list(bctx)
    add_contacts(bctx, list_id, [("ada@example.org", None, {})])
    campaign = campaigns.create_campaign(
        bctx, list_name="newsletter", kind="marketing", subject="Hello", html=HTML
    )
    campaigns.send_campaign(bctx, campaign.id, OutboxTransport(tmp_path))
    (eml,) = tmp_path.glob("*.eml")
    first = eml.read_bytes().split(b"\r\n", 1)[0].decode()
    assert first.startswith("Return-Path: <b") and first.endswith("@bounces.example.test>")


def test_the_campaign_report_shows_bounces_and_complaints_with_rates(bctx, cli, refusing_smtp):
    from clearpixel.deliverability.bounces import record
    from clearpixel.domain.bounces import BounceEvent, BounceKind

    refusing_smtp.handler.hard.add("gone@example.org")
    refusing_smtp.handler.soft.add("later@example.org")
    list_id = make_list(bctx)
    people = ["gone", "later", "angry", "fine"]
    ids = add_contacts(bctx, list_id, [(f"{p}@example.org", None, {}) for p in people])
    campaign = campaigns.create_campaign(
        bctx, list_name="newsletter", kind="marketing", subject="Hello", html=HTML
    )
    campaigns.send_campaign(bctx, campaign.id, SmtpTransport(SmtpConfig.parse(refusing_smtp.url)))
    complaint = BounceEvent(
        BounceKind.COMPLAINT,
        "angry@example.org",
        "arf",
        bctx.now(),
        campaign_id=campaign.id,
        contact_id=ids["angry@example.org"],
    )
    record(bctx, [complaint])
    env = {**cli.env, "CLEARPIXEL_BOUNCE_DOMAIN": "bounces.example.test"}
    cli.env = env
    figures = json.loads(cli("report", str(campaign.id), "--json").output)["deliverability"]
    # attempted: 2 sent + 1 refused (the deferred one is still pending)
    assert figures["attempted"] == 3
    assert (figures["hard_bounces"]["numerator"], figures["hard_bounces"]["value"]) == (1, 1 / 3)
    assert figures["soft_bounces"]["numerator"] == 1
    assert figures["complaints"]["numerator"] == 1
    text = cli("report", str(campaign.id)).output
    assert "hard bounces: 1 (33.3% of 3)" in text
    assert "complaints: 1 (33.3% of 3)" in text


def test_export_streams_csv_that_round_trips(ctx):
    for i in range(3):
        suppression.add(ctx, f"p{i}@example.org", reason="manual", actor="t", note='a "q", b')
    text = "".join(suppression.export_csv(ctx))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [json.loads(r["evidence"]) for r in rows] == [{"note": 'a "q", b'}] * 3
