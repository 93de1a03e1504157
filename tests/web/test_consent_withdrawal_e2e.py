"""R5 end to end: a person who opened tracked mail withdraws from the preference page in
Chromium; the stored open is forgotten at once, and a later hit on the earlier pixel is
anonymous and stores nothing personal."""

from __future__ import annotations

import pytest

from tests.consent.consent_helpers import contact, preferences_token
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import make_campaign, make_send, pixel_token, rows
from tests.web.tracking_support import eventually, request

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"


def _hits(ctx) -> int:  # type: ignore[no-untyped-def]
    return sum(r["n"] for r in rows(ctx, "hit_counters"))


@pytest.mark.browser
def test_withdrawal_on_the_preference_page_forgets_opens_and_anonymises_later_hits(
    ctx, page, live_server
):
    list_id = make_list(ctx)
    (cid,) = make_contacts(ctx, list_id, [1])
    campaign_id, _ = make_campaign(ctx, list_id)
    make_send(ctx, campaign_id, cid)
    pixel = f"/o/{pixel_token(ctx, campaign_id, cid)}.gif"

    request(live_server.url, pixel, headers={"User-Agent": UA})
    assert eventually(lambda: _hits(ctx) == 1)
    (event,) = rows(ctx, "personal_events")
    assert event["contact_id"] == cid

    page.goto(f"{live_server.url}/preferences/{preferences_token(ctx, cid)}")
    page.locator("#cp-status").get_by_text("Tracking stopped").wait_for()
    # the response came back after the commit: nothing personal is left for this contact
    assert contact(ctx, cid).privacy_flags == 0
    assert rows(ctx, "personal_events") == []

    request(live_server.url, pixel, headers={"User-Agent": UA + " Later"})
    assert eventually(lambda: _hits(ctx) == 2)
    assert rows(ctx, "personal_events") == []
