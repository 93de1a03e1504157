"""Unanswered consent requests become a refusal ('no decision', R9) and start the cool-down."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clearpixel.consent.pages import (
    CsrfRejected,
    Outcome,
    answer_consent_page,
    expire_pending,
    note_view,
    open_consent_page,
    recorded_response,
)
from clearpixel.domain.ledger_chain import verify_chain
from clearpixel.store.campaigns import create_campaign
from clearpixel.store.ledger import iter_entries
from clearpixel.store.sends import insert_pending, mark_sent, pending_batch
from tests.consent.consent_helpers import consent_token, contact, entries, state
from tests.helpers import make_contacts, make_list

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _open(ctx, token):  # type: ignore[no-untyped-def]
    """The page as a person's browser shows it: fetched, then its script reports the view."""
    page = open_consent_page(ctx, token, locale_of=lambda c: "en")
    note_view(
        ctx,
        token,
        nonce=page.nonce,
        csrf_token=page.csrf,
        notice_id=page.notice.id,
        ip="192.0.2.10",
        user_agent=BROWSER,
    )
    return page


def _later(ctx, **delta):  # type: ignore[no-untyped-def]
    then = ctx.now() + timedelta(**delta)
    ctx.now = lambda: then
    return then


def test_a_page_viewed_and_left_becomes_a_no_action_refusal_after_the_timeout(ctx):
    [cid] = make_contacts(ctx, make_list(ctx), [None])
    _open(ctx, consent_token(ctx, cid, campaign_id=9))
    before = state(ctx, cid)
    early = expire_pending(ctx, ctx.now() + timedelta(minutes=59))
    assert early.refusals == 0
    assert state(ctx, cid) == before
    now = _later(ctx, minutes=60)
    report = expire_pending(ctx, now)
    assert (report.pages_left_open, report.refusals) == (1, 1)
    found = contact(ctx, cid)
    assert found.privacy_flags == 0
    until = found.consent_cooldown_until
    assert until.replace(tzinfo=None) == (now + ctx.cooldown).replace(tzinfo=None)
    [entry] = entries(ctx, cid)
    assert entry.method == "consent_page_no_action"
    assert entry.evidence["campaign_id"] == 9
    assert expire_pending(ctx, now).refusals == 0  # runs again safely


def test_a_late_answer_replaces_no_decision_but_a_real_answer_is_final(ctx):
    [cid] = make_contacts(ctx, make_list(ctx), [None])
    token = consent_token(ctx, cid)
    page = _open(ctx, token)
    expire_pending(ctx, _later(ctx, hours=2))
    page = _open(ctx, token)
    assert page.outcome == Outcome.NO_ACTION and page.can_answer
    answer = answer_consent_page(
        ctx,
        token,
        accept=True,
        nonce=page.nonce,
        csrf_token=page.csrf,
        notice_id=page.notice.id,
        evidence={},
    )
    assert answer.recorded and contact(ctx, cid).privacy_flags == 1
    again = answer_consent_page(
        ctx,
        token,
        accept=False,
        nonce=page.nonce,
        csrf_token=page.csrf,
        notice_id=page.notice.id,
        evidence={},
    )
    assert not again.recorded and again.outcome == Outcome.ACCEPTED
    assert contact(ctx, cid).privacy_flags == 1
    assert [e.method for e in entries(ctx, cid)] == ["consent_page_no_action", "consent_page"]


def test_a_wrong_csrf_pair_changes_nothing(ctx):
    [cid] = make_contacts(ctx, make_list(ctx), [None])
    token = consent_token(ctx, cid)
    other = _open(ctx, consent_token(ctx, cid, campaign_id=2))
    before = state(ctx, cid)
    with pytest.raises(CsrfRejected):
        answer_consent_page(
            ctx,
            token,
            accept=True,
            nonce=other.nonce,
            csrf_token=other.csrf,
            notice_id=None,
            evidence={},
        )
    with pytest.raises(CsrfRejected):
        answer_consent_page(
            ctx, token, accept=True, nonce="", csrf_token="", notice_id=None, evidence={}
        )
    assert state(ctx, cid) == before
    assert recorded_response(ctx, 1, cid) is None


def _consent_request(ctx, list_id, contact_ids):  # type: ignore[no-untyped-def]
    with ctx.db.begin() as tx:
        campaign = create_campaign(
            tx,
            public_id="ask1",
            list_id=list_id,
            name="ask",
            kind="consent_request",
            subject="May we?",
            html="<p>{{consent_url}}</p>",
            text=None,
            from_addr="news@example.org",
            now=ctx.now(),
        )
        insert_pending(
            tx,
            [
                {
                    "campaign_id": campaign.id,
                    "contact_id": c,
                    "kind": "consent_request",
                    "mode": "none",
                    "purposes": 0,
                }
                for c in contact_ids
            ],
            now=ctx.now(),
        )
        for pending in pending_batch(tx, campaign.id):
            mark_sent(
                tx,
                pending.id,
                message_id=f"<{pending.id}@x>",
                mode="none",
                purposes=0,
                now=ctx.now(),
            )
    return campaign.id


def test_a_consent_link_that_expires_unused_is_a_refusal_unless_consent_came_another_way(ctx):
    list_id = make_list(ctx)
    unused, consented, answered = make_contacts(ctx, list_id, [None, None, None])
    campaign_id = _consent_request(ctx, list_id, [unused, consented, answered])
    token = consent_token(ctx, answered, campaign_id=campaign_id)
    page = _open(ctx, token)
    answer_consent_page(
        ctx,
        token,
        accept=False,
        nonce=page.nonce,
        csrf_token=page.csrf,
        notice_id=page.notice.id,
        evidence={},
    )
    from clearpixel.consent import record_decision
    from clearpixel.domain.ledger import Method

    record_decision(
        ctx.db, consented, granted=1, method=Method.API, now=ctx.now(), cooldown=ctx.cooldown
    )
    assert expire_pending(ctx, ctx.now() + timedelta(days=29)).refusals == 0
    report = expire_pending(ctx, _later(ctx, days=ctx.settings.consent_link_days))
    assert (report.links_expired, report.refusals, report.superseded) == (2, 1, 1)
    assert contact(ctx, unused).privacy_flags == 0
    assert contact(ctx, unused).consent_cooldown_until is not None
    assert contact(ctx, consented).privacy_flags == 1
    assert [e.method for e in entries(ctx, answered)] == ["consent_page"]
    with ctx.db.connect() as conn:
        assert verify_chain(iter_entries(conn)) is None


def test_the_cli_command_expires_pages_left_open(ctx, cli):
    [cid] = make_contacts(ctx, make_list(ctx), [None])
    _open(ctx, consent_token(ctx, cid))  # viewed at the fixed test time, long ago for the CLI
    result = cli("consent", "expire")
    assert "refusals recorded: 1" in result.output
    assert contact(ctx, cid).privacy_flags == 0
