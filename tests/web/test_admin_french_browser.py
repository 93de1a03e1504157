"""Every admin page visited in French in real Chromium (a browser asking for French): the
page says it is French and no English text of the admin's catalogue is left on it."""

from __future__ import annotations

import re

import pytest

from clearpixel.i18n import gettext_for
from tests.web.test_admin_i18n import admin_texts
from tests.web.test_admin_pages_browser import PASSWORD, installation, pages  # noqa: F401

# The page's own words: what people read, without the data it shows (a campaign's source,
# a notice's stored text, evidence, code).
VISIBLE_UI = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll("pre, blockquote, code, .evidence, textarea, script, .CodeMirror")
    .forEach((node) => node.remove());
  const said = [...copy.querySelectorAll("[aria-label], [placeholder], [title]")].map((node) =>
    [node.getAttribute("aria-label"), node.getAttribute("placeholder"), node.getAttribute("title")]
      .filter(Boolean).join("\\n"));
  return copy.innerText + "\\n" + said.join("\\n");
}"""


def english_left(text: str) -> list[str]:
    """Catalogue texts (of two words or more, translated differently in French) found in
    `text` as they are in English."""
    french = gettext_for("fr")
    left = []
    for message in admin_texts():
        if not isinstance(message, str) or "%(" in message or "<" in message:
            continue
        if len(message.split()) < 2 or french(message) == message:
            continue
        if re.search(r"(?<!\w)" + re.escape(message) + r"(?!\w)", text):
            left.append(message)
    return sorted(left)


def test_the_english_check_finds_english_text():
    assert english_left("Listes\nCreate list\nLists & contacts") == [
        "Create list",
        "Lists & contacts",
    ]


@pytest.mark.browser
def test_every_admin_page_in_french_has_no_english_left(browser, live_server, installation):  # noqa: F811
    url = live_server.url
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(f"{url}/admin/login")
    assert page.inner_text("h1") == "Se connecter"
    found = {"/admin/login": english_left(page.evaluate(VISIBLE_UI))}
    page.fill("#username", "ada@example.org")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(f"{url}/admin")
    for path in pages(installation):
        page.goto(url + path)
        page.wait_for_load_state("networkidle")
        assert page.get_attribute("html", "lang") == "fr", path
        assert "Listes et contacts" in page.inner_text("nav"), path
        found[path] = english_left(page.evaluate(VISIBLE_UI))
    page.goto(f"{url}/admin/contacts/999999")  # the message page
    found["missing contact"] = english_left(page.evaluate(VISIBLE_UI))
    context.close()
    assert {path: left for path, left in found.items() if left} == {}
