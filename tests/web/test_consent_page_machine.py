"""A consent page fetched only by a machine is no person's visit (R8, R9, R19): a link scanner
that fetches it (no script runs) leaves the request open, and once the link expires the
request is recorded as unanswered, which starts the cool-down and is never the person's own
refusal. A person whose browser showed the page and who left is a 'no decision'."""

from __future__ import annotations

from datetime import timedelta

import httpx2
import pytest

from clearpixel.consent.pages import expire_pending
from clearpixel.store.contacts import get_contact
from tests.consent.consent_helpers import consent_token, contact, entries
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import make_campaign, make_send


def test_a_scanner_fetch_is_no_visit_and_ends_as_an_unanswered_request(ctx, live_server):
    list_id = make_list(ctx)
    [cid] = make_contacts(ctx, list_id, [None])
    campaign_id, _ = make_campaign(ctx, list_id, kind="consent_request")
    make_send(ctx, campaign_id, cid, kind="consent_request", mode="none", purposes=0)
    path = f"/consent/{consent_token(ctx, cid, campaign_id=campaign_id, days=30)}"
    with httpx2.Client(base_url=live_server.url) as scanner:
        for agent in ("Mozilla/5.0 (compatible; Barracuda Sentinel)", "python-requests/2.31"):
            assert scanner.get(path, headers={"User-Agent": agent}).status_code == 200
    report = expire_pending(ctx, ctx.now() + timedelta(hours=3))
    assert report.refusals == 0  # not 'page viewed, no answer': nobody saw it
    assert contact(ctx, cid).privacy_flags is None
    report = expire_pending(ctx, ctx.now() + timedelta(days=31))
    assert (report.links_expired, report.refusals) == (1, 1)
    [entry] = entries(ctx, cid)
    assert entry.method == "consent_page_no_action"
    assert entry.evidence["reason"] == "link expired unanswered (not seen by a person)"
    with ctx.db.connect() as conn:
        found = get_contact(conn, cid)
    assert found.consent_cooldown_until is not None
    assert found.refused_flags == 0  # an unanswered request is no one's own refusal


def test_a_seen_report_from_a_machine_is_ignored(ctx, live_server):
    import re

    [cid] = make_contacts(ctx, make_list(ctx), [None])
    path = f"/consent/{consent_token(ctx, cid)}"
    with httpx2.Client(base_url=live_server.url) as bot:
        page = bot.get(path).text
        form = dict(re.findall(r'name="(nonce|csrf|notice_id)" value="([^"]*)"', page))
        seen = bot.post(f"{path}/seen", data=form, headers={"User-Agent": "curl/8.4.0"})
        assert seen.status_code == 204
        assert bot.post(f"{path}/seen", data={"nonce": "1.x", "csrf": "y"}).status_code == 403
    assert expire_pending(ctx, ctx.now() + timedelta(hours=3)).refusals == 0


@pytest.mark.browser
def test_a_person_who_saw_the_page_and_left_is_a_no_decision(ctx, person_page, live_server):
    page = person_page
    [cid] = make_contacts(ctx, make_list(ctx), [None])
    with page.expect_response(lambda r: r.url.endswith("/seen")) as seen:
        page.goto(f"{live_server.url}/consent/{consent_token(ctx, cid)}")
    assert seen.value.status == 204
    page.goto("about:blank")  # left without answering
    report = expire_pending(ctx, ctx.now() + timedelta(hours=2))
    assert (report.pages_left_open, report.refusals) == (1, 1)
    [entry] = entries(ctx, cid)
    assert entry.evidence["reason"] == "page viewed by a person, no answer"
