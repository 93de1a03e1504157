"""Ingest: the decision table applied from the flags at hit time, withdrawal for mail already
sent, IP/user-agent handling, uniques and implicit openers, drops, exactly-once batches."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from clearpixel.consent import record_decision
from clearpixel.context import Context
from clearpixel.domain.events import Hit, HitSource, Verdict
from clearpixel.domain.ledger import Method
from clearpixel.domain.policy import Strategy, TrackingMode
from clearpixel.ingest.pipeline import Batch
from clearpixel.ingest.tracker import Tracker, build_pipeline
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import (
    UA_IPHONE,
    click_token,
    deliverability_token,
    find_text_anywhere,
    make_campaign,
    make_send,
    pixel_token,
    rows,
)

IP = "203.0.113.77"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1 LeakCanary"


def tracker_for(ctx: Context, **settings: object) -> Tracker:
    if settings:
        ctx = Context(settings=ctx.settings.model_copy(update=settings), db=ctx.db, now=ctx.now)
    return Tracker(ctx)


def totals(ctx: Context) -> dict[tuple[str, int], int]:
    return {(r["metric"], r["link_id"]): r["n"] for r in rows(ctx, "campaign_totals")}


def counters(ctx: Context) -> dict[tuple[str, str, str], int]:
    out: dict[tuple[str, str, str], int] = {}
    for r in rows(ctx, "hit_counters"):
        key = (r["mode"], r["event"], r["verdict"])
        out[key] = out.get(key, 0) + r["n"]
    return out


def drops(ctx: Context) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows(ctx, "hit_drops"):
        out[r["reason"]] = out.get(r["reason"], 0) + r["n"]
    return out


def withdraw(ctx: Context, contact_id: int) -> None:
    record_decision(
        ctx.db,
        contact_id,
        revoked=1,
        method=Method.PREFERENCE_PAGE,
        now=ctx.now(),
        cooldown=ctx.cooldown,
    )


def grant(ctx: Context, contact_id: int) -> None:
    record_decision(
        ctx.db,
        contact_id,
        granted=1,
        method=Method.CONSENT_PAGE,
        now=ctx.now(),
        cooldown=ctx.cooldown,
    )


# (strategy, kind, flags at send, flags at hit, mode the email carried, expected)
# expected: "personal+id" personal event of a consenting contact; "personal" personal event
# of an exempt kind without consent; "anonymous" anonymous count only; None: the email carried
# no pixel. No event ever holds the requester's IP address or user agent (R17).
DECISIONS = [
    ("consent", "marketing", 1, 1, "personal", "personal+id"),
    ("consent", "marketing", 1, 0, "personal", "anonymous"),  # withdrawn after send
    ("consent", "marketing", 3, 2, "personal", "anonymous"),  # other purpose kept, bit 1 gone
    ("consent", "marketing", None, 1, "anonymous", "anonymous"),  # granted after send
    ("consent", "marketing", 0, 1, "anonymous", "anonymous"),
    ("consent", "marketing", 0, 0, "anonymous", "anonymous"),
    ("anonymous_only", "marketing", 1, 1, "anonymous", "anonymous"),
    ("legacy", "marketing", None, None, "personal", "personal"),
    ("consent", "transactional", None, None, "personal", "personal"),
    ("consent", "transactional", 1, 0, "personal", "personal"),
    ("consent", "transactional", 1, 1, "personal", "personal+id"),
    ("consent", "security", 1, 1, "anonymous", "anonymous"),
    ("consent", "consent_request", 1, 1, "none", None),
]


@pytest.mark.parametrize(("strategy", "kind", "at_send", "at_hit", "sent", "expected"), DECISIONS)
def test_decision_table_at_ingest(ctx, strategy, kind, at_send, at_hit, sent, expected):
    tracker = tracker_for(ctx, strategy=Strategy(strategy))
    list_id = make_list(ctx)
    (contact,) = make_contacts(ctx, list_id, [at_send])
    campaign_id, public_id = make_campaign(ctx, list_id, kind=kind)
    from clearpixel.domain.policy import MessageKind, decide

    assert decide(tracker.ctx.policy, MessageKind(kind), at_send) == TrackingMode(sent)
    make_send(ctx, campaign_id, contact, kind=kind, mode=sent)
    if at_hit != at_send:
        if at_send and at_send & 1 and not (at_hit or 0) & 1:
            withdraw(ctx, contact)
        if at_hit and at_hit & 1 and not (at_send or 0) & 1:
            grant(ctx, contact)
    if sent == "personal":
        tracker.pixel(pixel_token(ctx, campaign_id, contact), IP, UA, [])
    elif sent == "anonymous":
        tracker.anonymous_pixel(public_id, IP, UA, [])
    else:  # an email with no pixel: a pixel URL made up for it must still produce nothing
        tracker.pixel(pixel_token(ctx, campaign_id, contact), IP, UA, [])
        tracker.pixel(deliverability_token(ctx, campaign_id, contact), IP, UA, [])
        tracker.anonymous_pixel(public_id, IP, UA, [])
    tracker.buffer.flush_now()

    events = rows(ctx, "personal_events")
    if expected is None:
        assert events == [] and counters(ctx) == {}
        assert find_text_anywhere(ctx, ["203.0.113", "LeakCanary"]) == []
        assert [r["last_open_date"] for r in rows(ctx, "contacts")] == [None]
        assert sum(drops(ctx).values()) == 3, drops(ctx)
        return
    if expected.startswith("personal"):
        (event,) = events
        assert event["contact_id"] == contact and event["event"] == "open"
        assert find_text_anywhere(ctx, ["203.0.113", "LeakCanary"]) == []
        assert counters(ctx) == {("personal", "open", "human"): 1}
        assert totals(ctx)[("openers", 0)] == 1
    else:
        assert events == []
        assert counters(ctx) == {("anonymous", "open", "human"): 1}
        assert find_text_anywhere(ctx, ["203.0.113", "LeakCanary"]) == []
        if sent == "personal":
            assert drops(ctx) == {"withdrawn": 1}


def test_deliverability_hit_sets_last_open_date_only(ctx):
    tracker = tracker_for(ctx, nonconsent_mode=TrackingMode.DELIVERABILITY)
    list_id = make_list(ctx)
    (contact,) = make_contacts(ctx, list_id, [0])
    campaign_id, _ = make_campaign(ctx, list_id)
    make_send(ctx, campaign_id, contact, mode="deliverability", purposes=0)
    grant(ctx, contact)  # consent after send does not upgrade a deliverability pixel
    tracker.pixel(deliverability_token(ctx, campaign_id, contact), IP, UA, [])
    tracker.buffer.flush_now()
    (person,) = [r for r in rows(ctx, "contacts") if r["id"] == contact]
    assert str(person["last_open_date"]) == str(ctx.now().date())
    assert rows(ctx, "personal_events") == []
    assert counters(ctx) == {("deliverability", "open", "human"): 1}
    assert find_text_anywhere(ctx, ["203.0.113", "LeakCanary"]) == []


def test_pixel_after_withdrawal_is_anonymous_and_leaves_no_trace(ctx):
    """R5 + R17 leak test: a consenting contact opens, then withdraws; the stored open is
    forgotten, and a later hit on the earlier pixel stores nothing personal. Neither the
    address nor the user agent is anywhere in the database, before or after."""
    tracker = tracker_for(ctx)
    list_id = make_list(ctx)
    (contact,) = make_contacts(ctx, list_id, [1])
    campaign_id, _ = make_campaign(ctx, list_id)
    make_send(ctx, campaign_id, contact)
    token = pixel_token(ctx, campaign_id, contact)
    tracker.pixel(token, IP, UA, [])
    tracker.buffer.flush_now()
    assert rows(ctx, "personal_events")[0]["contact_id"] == contact
    assert find_text_anywhere(ctx, ["203.0.113", "LeakCanary"]) == []

    withdraw(ctx, contact)
    assert rows(ctx, "personal_events") == []
    tracker.pixel(token, "198.51.100.23", UA + " Second", [])
    tracker.buffer.flush_now()

    assert rows(ctx, "personal_events") == []
    assert find_text_anywhere(ctx, ["203.0.113", "198.51.100", "LeakCanary"]) == []
    assert counters(ctx) == {("personal", "open", "human"): 1, ("anonymous", "open", "human"): 1}
    assert drops(ctx) == {"withdrawn": 1}
    assert totals(ctx)[("openers", 0)] == 1  # campaign totals unchanged by the withdrawal


def test_clicks_are_recorded_for_every_mode_and_count_implicit_opens(ctx):
    tracker = tracker_for(ctx)
    list_id = make_list(ctx)
    consenting, anonymous = make_contacts(ctx, list_id, [1, None])
    campaign_id, _ = make_campaign(ctx, list_id)
    make_send(ctx, campaign_id, consenting)
    make_send(ctx, campaign_id, anonymous, mode="anonymous", purposes=0)

    import asyncio

    async def clicks() -> None:
        await tracker.links.load()
        for contact, link in ((anonymous, 1), (anonymous, 1), (anonymous, 2), (consenting, 2)):
            assert await tracker.click(click_token(ctx, campaign_id, contact, link), IP, UA, [])

    asyncio.run(clicks())
    tracker.pixel(pixel_token(ctx, campaign_id, consenting), IP, UA, [])  # open after click
    tracker.buffer.flush_now()

    events = rows(ctx, "personal_events")
    assert sorted((e["contact_id"], e["event"]) for e in events) == sorted(
        [(anonymous, "click")] * 3 + [(consenting, "click"), (consenting, "open")]
    )
    assert find_text_anywhere(ctx, ["203.0.113", "LeakCanary"]) == []  # R17
    t = totals(ctx)
    assert t[("clickers", 0)] == 2
    assert t[("openers", 0)] == 1
    assert t[("implicit_openers", 0)] == 1  # the consenting one opened after clicking
    assert t[("link_clicks", 1)] == 2 and t[("link_clicks", 2)] == 2
    assert t[("link_clickers", 1)] == 1 and t[("link_clickers", 2)] == 2
    days = {r["id"]: r["last_click_date"] for r in rows(ctx, "contacts")}
    assert days[anonymous] is not None and days[consenting] is not None


def test_click_in_consent_request_is_not_tracked(ctx):
    tracker = tracker_for(ctx)
    list_id = make_list(ctx)
    (contact,) = make_contacts(ctx, list_id, [None])
    campaign_id, _ = make_campaign(ctx, list_id, kind="consent_request")
    make_send(ctx, campaign_id, contact, kind="consent_request", mode="none", purposes=0)
    hit = Hit(
        source=HitSource.CLICK,
        at=ctx.now().timestamp(),
        campaign_id=campaign_id,
        contact_id=contact,
        link_id=1,
    )
    build_pipeline(tracker.ctx).ingest(Batch("b1", [hit]))
    assert rows(ctx, "personal_events") == [] and counters(ctx) == {}
    assert drops(ctx) == {"no_click_tracking": 1}


def test_unknown_campaign_and_bad_tokens_are_counted(ctx):
    tracker = tracker_for(ctx)
    tracker.pixel(pixel_token(ctx, 999, 5), IP, UA, [])
    tracker.pixel("not-a-token", IP, UA, [])
    tracker.anonymous_pixel("nope", IP, UA, [])
    tracker.anonymous_pixel("../etc", IP, UA, [])
    tracker.buffer.flush_now()
    assert drops(ctx) == {"unknown_campaign": 2, "bad_token": 2}
    assert rows(ctx, "personal_events") == [] and counters(ctx) == {}


def test_a_batch_is_applied_exactly_once(ctx):
    tracker = tracker_for(ctx)
    list_id = make_list(ctx)
    (contact,) = make_contacts(ctx, list_id, [1])
    campaign_id, _ = make_campaign(ctx, list_id)
    make_send(ctx, campaign_id, contact)
    hit = Hit(
        source=HitSource.PERSONAL,
        at=ctx.now().timestamp(),
        campaign_id=campaign_id,
        contact_id=contact,
        purposes=1,
        verdict=Verdict.HUMAN,
    )
    batch = Batch("same-id", [hit, replace(hit, verdict=Verdict.MACHINE)])
    assert not build_pipeline(tracker.ctx).ingest(batch).replayed
    assert build_pipeline(tracker.ctx).ingest(batch).replayed
    assert counters(ctx) == {("personal", "open", "human"): 1, ("personal", "open", "machine"): 1}
    t = totals(ctx)
    assert t[("openers", 0)] == 1 and t[("openers_human", 0)] == 1
    assert t[("openers_machine", 0)] == 1


def test_scanner_network_hit_right_after_delivery_is_a_scanner(ctx):
    tracker = tracker_for(ctx)
    list_id = make_list(ctx)
    early, late = make_contacts(ctx, list_id, [1, 1])
    campaign_id, _ = make_campaign(ctx, list_id)
    make_send(ctx, campaign_id, early, sent_at=ctx.now() - timedelta(seconds=5))
    make_send(ctx, campaign_id, late, sent_at=ctx.now() - timedelta(hours=5))
    scanner_ip = "148.163.130.10"  # in the default scanner networks
    tracker.pixel(pixel_token(ctx, campaign_id, early), scanner_ip, UA_IPHONE, [])
    tracker.pixel(pixel_token(ctx, campaign_id, late), scanner_ip, UA_IPHONE, [])
    tracker.buffer.flush_now()
    verdicts = {e["contact_id"]: (e["verdict"], e["reason"]) for e in rows(ctx, "personal_events")}
    assert verdicts[early] == ("machine", "security_scanner")
    assert verdicts[late] == ("human", None)
