"""Take the README's screenshots of the admin UI from the running app: a throwaway
installation (SQLite in a temporary folder) served over HTTP, driven by Chromium.

    uv run python docs/screenshots/take.py            # writes docs/screenshots/*.png

Set CLEARPIXEL_CHROMIUM to another Chromium binary than /usr/bin/chromium.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from clearpixel.accounts import users
from clearpixel.audience import lists as list_service
from clearpixel.config import Settings
from clearpixel.context import open_context
from clearpixel.web.server import ThreadedServer

HERE = Path(__file__).parent
PASSWORD = "screenshots passphrase"
CSV = (
    b"email,privacy_flags,first_name,city\n"
    b"ann@example.org,1,Ann,Lyon\nbob@example.org,,Bob,Nantes\n"
    b"not an address,0,Cy,Paris\nchloe@example.org,3,Chloe,Lille\n"
)
TEMPLATE = (
    "<h1>Autumn news, {{ contact.attributes.first_name }}</h1>\n"
    '<img src="https://cdn.example.org/banners/{{ contact.email }}.png" alt="">\n'
    '<p>Our <a href="https://shop.example.org/autumn">autumn sale</a> starts today.</p>\n'
)


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(folder) / "data",
            database_url=f"sqlite:///{folder}/screens.db",
            secret_keys=["screenshots-signing-key-0123456789abcdef"],
            base_url="https://mail.example.org",
        )
        ctx = open_context(settings)
        users.create_user(ctx, "eddie@example.org", role="editor", password=PASSWORD)
        list_service.create_list(ctx, "members")
        with ThreadedServer(ctx) as server, sync_playwright() as play:
            browser = play.chromium.launch(
                executable_path=os.environ.get("CLEARPIXEL_CHROMIUM", "/usr/bin/chromium"),
                args=["--no-sandbox", "--disable-gpu"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            url = server.url
            page.goto(f"{url}/admin/login")
            page.fill("#username", "eddie@example.org")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_url(f"{url}/admin")

            page.goto(f"{url}/admin/import")
            page.set_input_files(
                "#file", files=[{"name": "members.csv", "mimeType": "text/csv", "buffer": CSV}]
            )
            page.click("#upload")
            page.fill("#basis", "shop signup form, October 2026")
            page.screenshot(path=str(HERE / "import-preview.png"), full_page=True)
            page.click("#run-import")
            page.wait_for_selector("#import-refused, #import-report")
            page.screenshot(path=str(HERE / "import-refused.png"), full_page=True)
            page.goto(f"{url}/admin/import")  # again, skipping the bad line this time
            page.set_input_files(
                "#file", files=[{"name": "members.csv", "mimeType": "text/csv", "buffer": CSV}]
            )
            page.click("#upload")
            page.fill("#basis", "shop signup form, October 2026")
            page.check("#skip_invalid")
            page.click("#run-import")
            page.wait_for_selector("#import-report")

            page.goto(f"{url}/admin/campaigns/new")
            page.fill("#name", "Autumn news")
            page.fill("#subject", "Autumn news")
            page.wait_for_selector(".CodeMirror")
            page.evaluate(
                "(v) => document.querySelector('.CodeMirror').CodeMirror.setValue(v)", TEMPLATE
            )
            page.wait_for_selector("#problems .problem")
            page.screenshot(path=str(HERE / "campaign-editor.png"), full_page=True)
            browser.close()
        ctx.db.dispose()
    print("written:", ", ".join(sorted(p.name for p in HERE.glob("*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
