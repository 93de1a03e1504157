"""Every admin page visited in French in real Chromium (a browser asking for French): the
page says it is French and no English text of the admin's catalogue is left on it; and what
the services refuse (an import's bad line, a template's personal URL) reads in French too."""

from __future__ import annotations

import re

import pytest

from clearpixel.i18n import gettext_for
from tests.web.admin_walk import pages
from tests.web.test_admin_e2e_browser import (  # noqa: F401 - fixtures
    BAD_CSV,
    import_file,
    served,
    set_template,
    sign_in,
    smtp,
)
from tests.web.test_admin_i18n import admin_texts, plain
from tests.web.test_admin_pages_browser import PASSWORD, installation  # noqa: F401

PERSONAL_IMG = '<p>Hi</p>\n<img src="https://cdn.example.org/{{ contact.email }}/banner.png">\n'

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


@pytest.mark.browser
def test_a_french_editor_reads_the_import_and_template_refusals_in_french(
    ctx,
    browser,
    served,  # noqa: F811
):
    from clearpixel.audience import lists as list_service

    list_service.create_list(ctx, "members")
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    url = served.url
    sign_in(page, url, "eddie@example.org")
    import_file(page, url, BAD_CSV, attribute="attribut")
    refusal = plain(page.inner_text("#import-refused"))
    assert "Rien n'a été importé" in refusal
    assert "ligne 3 : adresse e-mail invalide 'not an address'" in refusal, refusal
    assert "line" not in refusal

    page.goto(f"{url}/admin/campaigns/new")
    set_template(page, PERSONAL_IMG)
    problem = plain(page.wait_for_selector("#problems .problem").inner_text())
    assert "charge 'https://cdn.example.org/{{ contact.email }}/banner.png'" in problem, problem
    assert "ne peuvent pas faire charger par la messagerie" in problem
    assert "depends on the recipient" not in problem
    assert page.locator(".CodeMirror .problem-line").count() == 1
    context.close()
