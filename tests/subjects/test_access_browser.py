"""The recipient in real Chromium: from the preference page of an email, "Download my data"
shows their own data and nobody else's; the French page offers it in French."""

from __future__ import annotations

import pytest

from tests.consent.consent_helpers import preferences_token
from tests.subjects.people import populate

pytestmark = pytest.mark.browser


def test_download_my_data_from_the_preference_page(ctx, page, live_server):
    ana = populate(ctx, "ana@example.org", "Zephyrine", ip="203.0.113.77", tag="AnaAgent")
    populate(ctx, "bob@example.org", "Quillon", ip="198.51.100.23", tag="BobAgent")
    token = preferences_token(ctx, ana.contact_ids[0])
    page.goto(f"{live_server.url}/preferences/{token}?change=1")
    page.get_by_role("link", name="Download my data").click()
    page.wait_for_url(f"**/preferences/{token}/data")
    body = page.locator("body").inner_text()
    assert "ana@example.org" in body and "Zephyrine" in body and "Zephyrine-city" in body
    assert "News for AnaAgent" in body and "granted" in body
    assert "Quillon" not in body and "bob@example.org" not in body


def test_the_french_preference_page_offers_the_download_in_french(ctx, page, live_server):
    ana = populate(ctx, "ana@example.org", "Zephyrine", ip="203.0.113.77", tag="AnaAgent")
    token = preferences_token(ctx, ana.contact_ids[0])
    page.set_extra_http_headers({"Accept-Language": "fr-FR,fr;q=0.9"})
    page.goto(f"{live_server.url}/preferences/{token}?change=1")
    assert page.get_by_role("link", name="Télécharger mes données").is_visible()
