"""`clearpixel demo` end to end: import, two campaigns to the outbox, simulated recipients over
real HTTP, then reports with human and machine opens, clicks, accepted and refused consents."""

from __future__ import annotations

from clearpixel.consent.integrity import check_flags, verify_ledger
from clearpixel.reports.campaign import campaign_report
from clearpixel.reports.consent import consent_dashboard
from clearpixel.sending.campaigns import all_campaigns


def test_demo_builds_an_installation_with_traffic_and_reports(cli, ctx):
    result = cli("demo", "--contacts", "250")
    out = result.output
    assert "password (shown once)" in out
    assert "/admin" in out and "clearpixel serve" in out
    assert "skipped" not in out

    marketing, request = sorted(all_campaigns(ctx), key=lambda c: c.id)
    assert (marketing.kind, request.kind) == ("marketing", "consent_request")
    report = campaign_report(ctx, str(marketing.id))
    assert report.personal_openers.human > 0
    assert report.personal_openers.machine > 0
    assert report.anonymous_opens.human > 0
    assert report.anonymous_opens.machine > 0
    assert report.clicks.human > 0 and report.unique_clickers.human > 0
    assert report.click_to_open_rate.value is not None
    assert report.click_to_open_rate.value <= 1

    board = consent_dashboard(ctx)
    (outcomes,) = board.requests
    assert outcomes.accepted > 0 and outcomes.refused > 0
    assert sum(w.total for w in board.withdrawals) > 0
    (coverage,) = board.lists
    assert coverage.contacts == 250
    assert {p.purpose for p in coverage.purposes} == {
        "open_tracking",
        "personalisation",
        "profiling",
    }

    assert verify_ledger(ctx).fault is None
    assert check_flags(ctx).mismatch is None


def test_a_second_demo_run_adds_a_fresh_list(cli, ctx):
    cli("demo", "--contacts", "60")
    second = cli("demo", "--contacts", "60")
    assert "list 'demo-2'" in second.output
    assert "exists; password unchanged" in second.output
    assert len(all_campaigns(ctx)) == 4
