"""The API docs page works with no internet: Swagger UI's assets come from the installation,
and rendering the page requests nothing from anywhere else (real Chromium)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_api_docs_render_from_the_installation_only(page, live_server, artifacts_dir):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/api/v1/docs", wait_until="networkidle")
    page.locator(".swagger-ui .info .title").get_by_text("clearpixel").wait_for()
    page.get_by_text("/api/v1/campaigns/{campaign_id}/cancel").first.wait_for()
    page.screenshot(path=str(artifacts_dir / "api-docs.png"))
    assert requested, "the page loaded its assets"
    outside = [u for u in requested if not u.startswith(live_server.url)]
    assert outside == [], f"requests outside the installation: {outside}"
    assert any(u.endswith("/api/v1/docs/static/swagger-ui-bundle.js") for u in requested)
