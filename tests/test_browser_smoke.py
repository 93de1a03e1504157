import pytest


@pytest.mark.browser
def test_chromium_reaches_the_live_server(page, live_server, artifacts_dir):
    page.goto(f"{live_server.url}/healthz")
    assert '"status":"ok"' in page.content().replace(" ", "")
    page.screenshot(path=str(artifacts_dir / "healthz.png"))
