"""The admin with the keyboard only, in real Chromium: sign in, create a list, open it, write a
campaign draft in the code editor and save it, reach its preview, sign out — with Tab,
Shift+Tab, Enter, Space, Esc and typing, never a mouse click. Every element that takes the
focus on the way shows a visible focus ring, and every page starts with a skip-to-content link.
"""

from __future__ import annotations

import re

import pytest

from clearpixel.accounts import users
from clearpixel.audience import lists as list_service
from clearpixel.sending import campaigns as sending

PASSWORD = "a passphrase for the team"
MAX_TABS = 80

# What the focused element is, and whether a focus ring shows on it (or, for the code
# editor's hidden input, on the editor's frame): an outline at least 2px wide, or a shadow.
FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) { return null; }
  const frame = el.closest(".CodeMirror") || el;
  const style = getComputedStyle(frame);
  const box = frame.getBoundingClientRect();
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  const shadow = style.boxShadow && style.boxShadow !== "none";
  return {
    id: el.id, tag: el.tagName.toLowerCase(), text: (el.innerText || el.value || "").trim(),
    href: el.getAttribute("href") || "", editor: frame !== el,
    ring: outline || shadow, seen: box.width > 0 && box.height > 0,
  };
}"""


class Keyboard:
    """Moves through a page with Tab / Shift+Tab; each stop must show its focus ring."""

    def __init__(self, page) -> None:
        self.page = page
        self.stops: list[dict] = []

    def focused(self) -> dict | None:
        return self.page.evaluate(FOCUS)

    def tab_to(self, wanted, *, back: bool = False) -> dict:
        """Press Tab (Shift+Tab with `back`) until `wanted(focused)` holds."""
        for _ in range(MAX_TABS):
            self.page.keyboard.press("Shift+Tab" if back else "Tab")
            now = self.focused()
            if now is None:
                continue
            self.stops.append({**now, "url": self.page.url})
            if wanted(now):
                return now
        raise AssertionError(f"not reached with the keyboard; stops: {self.stops[-12:]}")

    def without_ring(self) -> list[dict]:
        return [s for s in self.stops if not (s["ring"] and s["seen"])]


def by_id(name: str):
    return lambda f: f["id"] == name


def by_text(text: str):
    return lambda f: f["text"] == text


@pytest.mark.browser
def test_the_main_flow_with_the_keyboard_only(ctx, browser, live_server):
    users.create_user(ctx, "eddie@example.org", role="editor", password=PASSWORD)
    url = live_server.url
    page = browser.new_context().new_page()
    keys = Keyboard(page)
    page.goto(f"{url}/admin/login")

    # the skip link comes first, shows when focused, and leads to the content
    skip = keys.tab_to(lambda f: True)
    assert skip["tag"] == "a" and skip["href"] == "#main" and skip["text"] == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    keys.tab_to(by_id("username"))
    page.keyboard.type("eddie@example.org")
    keys.tab_to(by_id("password"))
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/admin")

    # create a list, then open it from the lists page
    keys.tab_to(lambda f: f["href"] == "/admin/lists")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/admin/lists")
    keys.tab_to(by_id("list-name"))
    page.keyboard.type("members")
    keys.tab_to(by_id("create-list"))
    page.keyboard.press("Space")
    page.wait_for_url(re.compile(r".*/admin/lists/\d+$"))
    (created,) = list_service.all_lists(ctx)
    keys.tab_to(lambda f: f["href"] == "/admin/lists")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/admin/lists")
    keys.tab_to(lambda f: f["href"] == f"/admin/lists/{created.id}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/admin/lists/{created.id}")
    assert page.inner_text("h1") == "List members"

    # write a draft: the fields, then the code editor (Tab indents there; Esc then Tab leaves)
    keys.tab_to(lambda f: f["href"] == "/admin/campaigns/new")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/admin/campaigns/new")
    assert "Esc then Tab" in page.inner_text("#editor-help")
    keys.tab_to(by_id("subject"))
    page.keyboard.type("Autumn news")
    keys.tab_to(by_id("name"), back=True)
    page.keyboard.type("Autumn")
    editor = keys.tab_to(lambda f: f["editor"])
    page.keyboard.press("Control+a")
    page.keyboard.type("<p>Hello</p>\n")
    page.keyboard.press("Tab")  # indents: the focus stays in the editor
    page.keyboard.type("See you soon")
    assert keys.focused()["editor"], "Tab left the editor instead of indenting"
    written = page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()")
    assert written == "<p>Hello</p>\n    See you soon", written
    page.keyboard.press("Escape")
    saved = keys.tab_to(lambda f: not f["editor"])
    assert editor["editor"] and saved["id"] == "save", saved
    page.wait_for_selector("#template-ok")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/admin/campaigns/\d+$"))
    (campaign,) = sending.all_campaigns(ctx)
    assert campaign.status == "draft" and campaign.subject == "Autumn news"
    assert campaign.html.splitlines()[-1] == "    See you soon"

    # its preview, then sign out (Shift+Tab back up to the header)
    keys.tab_to(by_id("preview-link"))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/admin/campaigns/{campaign.id}/preview")
    assert page.inner_text("h1") == "Preview: Autumn"
    keys.tab_to(by_id("email"))
    keys.tab_to(by_id("sign-out"), back=True)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/admin/login"))

    assert len(keys.stops) > 20
    assert keys.without_ring() == []
    page.context.close()


@pytest.mark.browser
def test_the_focus_check_sees_a_control_without_a_ring(browser):
    """The ring check above can fail: a button whose outline is removed is caught."""
    page = browser.new_context().new_page()
    page.set_content('<style>button:focus { outline: none; }</style><button id="bare">Go</button>')
    keys = Keyboard(page)
    keys.tab_to(by_id("bare"))
    assert [s["id"] for s in keys.without_ring()] == ["bare"]
    page.context.close()


@pytest.mark.browser
def test_every_admin_page_starts_with_a_skip_link(ctx, browser, live_server):
    users.create_user(ctx, "ada@example.org", role="admin", password=PASSWORD)
    list_id = list_service.create_list(ctx, "members").id
    url = live_server.url
    page = browser.new_context().new_page()
    page.goto(f"{url}/admin/login")
    page.fill("#username", "ada@example.org")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/admin")
    paths = ["/admin", "/admin/lists", f"/admin/lists/{list_id}", "/admin/import"]
    paths += ["/admin/campaigns/new", "/admin/consent", "/admin/notices", "/admin/settings"]
    paths += ["/admin/account", "/admin/users", "/admin/apikeys"]
    keys = Keyboard(page)
    for path in paths:
        page.goto(url + path)
        first = keys.tab_to(lambda f: True)
        assert first["href"] == "#main", path
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main", path
    assert keys.without_ring() == []
    page.context.close()
