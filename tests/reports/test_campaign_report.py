"""The campaign report from counters: every figure with its population, CTOR ≤ 100% by
construction, anonymous opens as total hits, human and machine side by side."""

from __future__ import annotations

import asyncio
import json
from dataclasses import fields
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearpixel.ingest.tracker import Tracker
from clearpixel.reports.campaign import Figure, Rate, Split, campaign_report
from clearpixel.store.campaigns import UnknownCampaign
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import click_token, make_campaign, make_send, pixel_token

HUMAN = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)"
SCANNER = "python-requests/2.31.0"  # a link checker: a machine
HOME = "192.0.2.10"
APPLE = "17.58.0.1"


@pytest.fixture
def sent(ctx):
    """Three personal recipients, two anonymous ones."""
    list_id = make_list(ctx)
    contacts = make_contacts(ctx, list_id, [1, 1, 1, None, 0])
    campaign_id, public_id = make_campaign(ctx, list_id)
    for contact in contacts[:3]:
        make_send(ctx, campaign_id, contact)
    for contact in contacts[3:]:
        make_send(ctx, campaign_id, contact, mode="anonymous", purposes=0)
    return campaign_id, public_id, contacts


def click(tracker, ctx, campaign_id, contact, link, ua=HUMAN):
    async def run():
        await tracker.links.load()
        return await tracker.click(click_token(ctx, campaign_id, contact, link), HOME, ua, [])

    assert asyncio.run(run())


def test_report_figures(ctx, sent):
    campaign_id, public_id, (a, b, _c, d, _e) = sent
    tracker = Tracker(ctx)
    tracker.pixel(pixel_token(ctx, campaign_id, a), HOME, HUMAN, [])
    tracker.pixel(pixel_token(ctx, campaign_id, a), HOME, HUMAN, [])  # reread: still one opener
    tracker.pixel(pixel_token(ctx, campaign_id, b), APPLE, HUMAN, [])  # Apple proxy: machine
    for _ in range(3):
        tracker.anonymous_pixel(public_id, HOME, HUMAN, [])
    tracker.anonymous_pixel(public_id, APPLE, "Mozilla/5.0", [])
    click(tracker, ctx, campaign_id, a, 1)
    click(tracker, ctx, campaign_id, d, 1)  # anonymous recipient: implicit opener
    click(tracker, ctx, campaign_id, d, 2)
    tracker.buffer.flush_now()

    r = campaign_report(ctx, str(campaign_id))
    assert r.sent.value == 5 and r.personal_sent.value == 3
    assert {(s.mode, s.n) for s in r.sent_by} == {("personal", 3), ("anonymous", 2)}
    assert (r.personal_openers.human, r.personal_openers.machine) == (1, 1)
    assert r.personal_openers_any.value == 2
    assert (r.implicit_openers.human, r.implicit_openers.machine) == (1, 0)
    assert (r.anonymous_opens.human, r.anonymous_opens.machine) == (3, 1)
    assert r.personal_open_hits.total == 3
    assert (r.clicks.human, r.unique_clickers.human) == (3, 2)
    assert [(link.link_id, link.clicks.value, link.unique_clickers.value) for link in r.links] == [
        (1, 2, 2),
        (2, 1, 1),
    ]
    assert r.open_rate.value == pytest.approx(1 / 3)  # human openers only
    assert r.open_rate_machine.value == pytest.approx(1 / 3)
    assert r.click_rate.value == pytest.approx(2 / 5)
    assert r.click_to_open_rate.value == pytest.approx(2 / 2)
    hour = ctx.now().replace(minute=0, second=0, microsecond=0)
    (bucket,) = r.hourly
    assert bucket.start == hour
    assert (bucket.opens_human, bucket.opens_machine, bucket.clicks) == (5, 2, 3)
    assert r.daily[0].start == hour.replace(hour=0)
    # every figure names its population
    for f in fields(r):
        value = getattr(r, f.name)
        if isinstance(value, Figure | Rate | Split):
            assert value.population, f.name
    assert campaign_report(ctx, public_id) == r == campaign_report(ctx, "November news")


def test_headline_figures_are_human_with_machine_and_unknown_beside(ctx, sent):
    """Machine opens (a mail proxy) and machine clicks (a link scanner) never inflate the
    headline: the open rate is human openers over personal-mode sends, clicks and unique
    clickers are split by verdict, a machine click makes no implicit open, CTOR <= 100%."""
    campaign_id, _, (a, b, c, d, e) = sent
    tracker = Tracker(ctx)
    tracker.pixel(pixel_token(ctx, campaign_id, a), HOME, HUMAN, [])
    tracker.pixel(pixel_token(ctx, campaign_id, b), APPLE, HUMAN, [])  # proxy prefetch
    for who in (a, b, c, d, e):  # a scanner clicks every link of every message
        click(tracker, ctx, campaign_id, who, 1, ua=SCANNER)
    click(tracker, ctx, campaign_id, e, 2)  # one person, who never showed an open
    tracker.buffer.flush_now()

    r = campaign_report(ctx, str(campaign_id))
    assert (r.open_rate.numerator, r.open_rate.denominator) == (1, 3)
    assert (r.open_rate_machine.numerator, r.open_rate_unknown.numerator) == (1, 0)
    assert (r.clicks.human, r.clicks.machine) == (1, 5)
    assert (r.unique_clickers.human, r.unique_clickers.machine) == (1, 5)
    assert (r.implicit_openers.human, r.implicit_openers.machine) == (1, 0)
    assert (r.click_rate.numerator, r.click_rate.denominator) == (1, 5)
    assert (r.click_to_open_rate.numerator, r.click_to_open_rate.denominator) == (1, 2)


def test_unknown_campaign_is_named(ctx):
    with pytest.raises(UnknownCampaign, match="'nope'"):
        campaign_report(ctx, "nope")


def test_report_cli_text_and_json(ctx, sent, cli):
    campaign_id, public_id, contacts = sent
    tracker = Tracker(ctx)
    tracker.pixel(pixel_token(ctx, campaign_id, contacts[0]), HOME, HUMAN, [])
    tracker.buffer.flush_now()
    text = cli("report", public_id).output
    assert "Open rate: 33.3% (1/3)" in text and "personal-mode" in text
    data = json.loads(cli("report", str(campaign_id), "--json").output)
    assert data["open_rate"]["value"] == pytest.approx(1 / 3)
    assert data["anonymous_opens"]["population"].startswith("hits on the campaign-wide")
    result = cli("report", "nope", ok=False)
    assert result.exit_code == 2 and "nope" in result.output


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["open", "click", "scan"]), st.integers(0, 4), st.integers(1, 2)),
        max_size=25,
    )
)
def test_click_to_open_never_exceeds_100_percent(ctx_factory, events):
    ctx, campaign_id, contacts, start = ctx_factory()  # a fresh campaign per example
    tracker = Tracker(ctx)
    for i, (kind, who, link) in enumerate(events):
        ctx.now = lambda i=i: start + timedelta(minutes=i)
        if kind == "open" and who < 3:
            tracker.pixel(pixel_token(ctx, campaign_id, contacts[who]), HOME, HUMAN, [])
        elif kind in ("click", "scan"):
            ua = SCANNER if kind == "scan" else HUMAN
            click(tracker, ctx, campaign_id, contacts[who], link, ua=ua)
        if i % 7 == 0:
            tracker.buffer.flush_now()
    tracker.buffer.flush_now()
    r = campaign_report(ctx, str(campaign_id))
    # the same figures from the events themselves: opens only reach the three personal
    # recipients; a click is a person's unless a scanner made it
    opened = {who for kind, who, _ in events if kind == "open" and who < 3}
    clicked = {who for kind, who, _ in events if kind == "click"}
    assert r.personal_openers.human == len(opened)
    assert r.implicit_openers.human == len(clicked - opened)
    assert r.implicit_openers.unknown == 0 and r.implicit_openers.machine == 0
    assert r.unique_clickers.human == len(clicked)
    assert r.click_to_open_rate.denominator == len(opened | clicked)
    assert r.click_to_open_rate.numerator <= r.click_to_open_rate.denominator


@pytest.fixture
def ctx_factory(ctx, sent):
    """Each example gets a fresh campaign on the same database."""
    start = ctx.now()
    counter = iter(range(1000))
    list_id = make_list(ctx, "prop")
    contacts = make_contacts(ctx, list_id, [1, 1, 1, None, 0])

    def make():
        n = next(counter)
        campaign_id, _ = make_campaign(ctx, list_id, name=f"prop {n}")
        for contact in contacts[:3]:
            make_send(ctx, campaign_id, contact)
        for contact in contacts[3:]:
            make_send(ctx, campaign_id, contact, mode="anonymous", purposes=0)
        return ctx, campaign_id, contacts, start

    return make
