"""The consent dashboard: coverage per list and purpose (NULL / 0 / granted), its history
from the ledger, consent-request outcomes and withdrawals over time."""

from __future__ import annotations

import json
from datetime import date, timedelta

from clearpixel.consent import record_decision
from clearpixel.consent.pages import (
    answer_consent_page,
    expire_pending,
    note_view,
    open_consent_page,
)
from clearpixel.domain.ledger import Method
from clearpixel.reports.consent import consent_dashboard
from clearpixel.sending.campaigns import create_campaign, send_campaign
from clearpixel.sending.transports import MemoryTransport
from tests.conftest import FIXED_NOW
from tests.consent.consent_helpers import consent_token
from tests.helpers import make_contacts, make_list

REQUEST = """<html><body><p>May we know when you open our mail?</p>
<p><a href="{{ consent_url }}">Choose</a> <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""


def test_coverage_per_list_and_purpose_counts_null_zero_and_granted(ctx):
    list_id = make_list(ctx, "newsletter")
    make_contacts(ctx, list_id, [None, None, 0, 1, 3, 7, 2])
    make_list(ctx, "empty")
    board = consent_dashboard(ctx)
    by_name = {x.list_name: x for x in board.lists}
    assert by_name["empty"].contacts == 0
    news = by_name["newsletter"]
    assert (news.contacts, news.never_asked) == (7, 2)
    coverage = {p.purpose: (p.never_asked, p.refused, p.granted) for p in news.purposes}
    assert coverage == {
        "open_tracking": (2, 2, 3),  # 0 and 2 refused it; 1, 3, 7 hold it
        "personalisation": (2, 2, 3),  # 3, 7, 2
        "profiling": (2, 4, 1),  # 7
    }


def test_history_and_withdrawals_follow_the_ledger_day_by_day(ctx):
    list_id = make_list(ctx)
    ids = make_contacts(ctx, list_id, [None, 1, 1, 3])
    next_day = FIXED_NOW + timedelta(days=1)
    record_decision(
        ctx.db,
        ids[1],
        revoked=1,
        method=Method.PREFERENCE_PAGE,
        now=next_day,
        cooldown=ctx.cooldown,
    )
    record_decision(
        ctx.db, ids[0], granted=1, method=Method.API, now=next_day, cooldown=ctx.cooldown
    )
    record_decision(
        ctx.db,
        ids[3],
        revoked=1,
        method=Method.ONE_CLICK_WITHDRAWAL,
        now=next_day + timedelta(days=1),
        cooldown=ctx.cooldown,
    )
    board = consent_dashboard(ctx)
    (news,) = board.lists
    day1, day2, day3 = FIXED_NOW.date(), next_day.date(), next_day.date() + timedelta(days=1)
    assert [
        (p.day, p.contacts, p.never_asked, p.granted["open_tracking"]) for p in news.history
    ] == [
        (day1, 4, 1, 3),
        (day2, 4, 0, 3),  # one withdrew, one never asked granted
        (day3, 4, 0, 2),
    ]
    assert news.history[-1].granted["personalisation"] == 1
    assert [(w.day, w.total, w.by_method) for w in board.withdrawals] == [
        (day2, 1, {"preference_page": 1}),
        (day3, 1, {"one_click_withdrawal": 1}),
    ]
    final = {p.purpose: p.granted for p in news.purposes}
    assert final["open_tracking"] == news.history[-1].granted["open_tracking"]


def test_consent_request_outcomes_accepted_refused_no_decision(ctx):
    list_id = make_list(ctx)
    ids = make_contacts(ctx, list_id, [None] * 5, locale="en")
    campaign = create_campaign(
        ctx, list_name="newsletter", kind="consent_request", subject="May we?", html=REQUEST
    )
    send_campaign(ctx, campaign.id, MemoryTransport())
    for contact_id, choice in zip(ids[:3], (True, False, True), strict=True):
        token = consent_token(ctx, contact_id, campaign_id=campaign.id)
        page = open_consent_page(ctx, token, locale_of=lambda _c: "en")
        answer_consent_page(
            ctx,
            token,
            accept=choice,
            nonce=page.nonce,
            csrf_token=page.csrf,
            notice_id=page.notice.id,
            evidence={"test": True},
        )
    left = consent_token(ctx, ids[3], campaign_id=campaign.id)
    page = open_consent_page(ctx, left, locale_of=lambda _c: "en")
    note_view(  # its script reports that a person's browser showed it
        ctx,
        left,
        nonce=page.nonce,
        csrf_token=page.csrf,
        notice_id=page.notice.id,
        ip="192.0.2.10",
        user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    )
    expire_pending(ctx, FIXED_NOW + timedelta(hours=2))
    (request,) = consent_dashboard(ctx).requests
    assert (request.sent, request.viewed) == (5, 4)
    assert (request.accepted, request.refused, request.no_decision) == (2, 1, 1)
    assert request.pending == 1


def test_dashboard_json_names_no_contact(ctx):
    list_id = make_list(ctx)
    make_contacts(ctx, list_id, [None, 1, 0])
    dumped = json.dumps(consent_dashboard(ctx).as_dict())
    assert "@example.org" not in dumped
    assert date.fromisoformat(json.loads(dumped)["lists"][0]["history"][0]["day"])
