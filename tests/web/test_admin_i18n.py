"""The admin UI in English and French: every text of the admin templates is a catalogue text
with its French translation (a text added without either fails here), the language each user
chose is kept with the user, the sign-in page follows the browser or its switch, and French
pages use French typography, dates and numbers."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from clearpixel.accounts import users
from clearpixel.audience import contacts as contact_service
from clearpixel.audience import lists as list_service
from clearpixel.i18n import LOCALE_DIR, format_day, format_number, gettext_for, translations
from clearpixel.web.app import create_app
from tests.web.test_admin import csrf_of

ROOT = Path(__file__).parent.parent.parent
ADMIN_TEMPLATES = ROOT / "src" / "clearpixel" / "web" / "templates" / "admin"
PASSWORD = "correct horse battery staple"
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
SPOKEN_ATTRIBUTES = re.compile(r'\b(?:placeholder|title|aria-label|alt)="([^"]*)"')
# Names, not words: the product, formats and the column every import file has.
WRITTEN_REFUSAL = re.compile(r"Refused\(\s*\d+,(?!\s*(N_\(|[A-Z][A-Z_]+\b))[^)]{0,60}")
NOT_WORDS = {"clearpixel", "· clearpixel", "HTML", "JSON", "privacy_flags", "· SHA-256"}


def plain(text: str) -> str:
    """French text with plain spaces and apostrophes, to compare with what a test writes."""
    return text.replace("\u00a0", " ").replace("\u2019", "'")


def unmarked_texts(source: str) -> list[str]:
    """The texts a template shows people (element text, placeholder, title, aria-label, alt)
    that are written in it rather than given by `_()`/`ngettext()` or a value."""
    bare = JINJA.sub(" ", source)
    bare = re.sub(r"<(script|style)\b.*?</\1>", " ", bare, flags=re.S)
    found = SPOKEN_ATTRIBUTES.findall(bare)
    found += [html.unescape(part).strip() for part in re.sub(r"<[^>]*>", "\n", bare).split("\n")]
    return [t for t in found if re.search(r"[A-Za-z]", t) and t not in NOT_WORDS]


def admin_texts() -> set[str | tuple[str, ...]]:
    """Every msgid the admin templates and the admin's Python use, and the refusals of the
    services the admin shows (a campaign template's problems, what a notice lacks, an
    import's refused lines, the installation check)."""
    method_map = [
        ("src/clearpixel/web/templates/admin/**.html", "jinja2"),
        ("src/clearpixel/web/admin*.py", "python"),
        ("src/clearpixel/sending/**.py", "python"),
        ("src/clearpixel/consent/notices.py", "python"),
        ("src/clearpixel/audience/**.py", "python"),
        ("src/clearpixel/reports/compliance.py", "python"),
        ("src/clearpixel/domain/retention.py", "python"),
        ("src/clearpixel/domain/flags.py", "python"),
        ("src/clearpixel/store/lists.py", "python"),
        ("src/clearpixel/accounts/users.py", "python"),
        ("src/clearpixel/deliverability/targets.py", "python"),
        ("src/clearpixel/deliverability/webhooks.py", "python"),
        ("src/clearpixel/domain/errors.py", "python"),
    ]
    keywords = {"_": None, "N_": None, "ngettext": (1, 2), "say_n": (2, 3)}
    found = extract_from_dir(str(ROOT), method_map, keywords=keywords)
    return {message for _file, _line, message, _comments, _context in found}


def untranslated(texts) -> list:
    with open(LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        french = read_po(handle, locale="fr")
    missing = []
    for text in texts:
        entry = french.get(text)
        forms = () if entry is None else entry.string
        forms = forms if isinstance(forms, tuple) else (forms,)
        if entry is None or entry.fuzzy or not forms or not all(forms):
            missing.append(text)
    return missing


def test_no_admin_template_shows_a_text_outside_the_catalogue():
    templates = sorted(ADMIN_TEMPLATES.glob("*.html"))
    assert len(templates) > 15
    found = {t.name: unmarked_texts(t.read_text()) for t in templates}
    assert {name: texts for name, texts in found.items() if texts} == {}


def test_the_template_check_catches_a_text_written_in_a_template():
    page = '<h1>{{ _("Lists") }}</h1><p>Nothing here yet.</p><input placeholder="an address">'
    assert unmarked_texts(page) == ["an address", "Nothing here yet."]


def test_every_refusal_of_an_admin_page_is_a_catalogue_text():
    """A page's refusal (`Refused`) is written as `N_("…")` (or a constant holding one), so it
    is translated when shown."""
    written = []
    for module in sorted((ROOT / "src" / "clearpixel" / "web").glob("admin*.py")):
        source = module.read_text()
        written += [f"{module.name}: {call.group(0)}" for call in WRITTEN_REFUSAL.finditer(source)]
    assert written == []


def test_every_admin_text_has_its_french_translation():
    texts = admin_texts()
    assert len(texts) > 250
    assert untranslated(texts) == []
    assert untranslated(["A text added without its translation"]) != []


def test_french_texts_keep_a_no_break_space_before_high_punctuation():
    french = translations("fr")
    assert french.gettext("How did the contact make this choice?").endswith("\u00a0?")
    assert french.gettext("Language: %(name)s") == "Langue\u00a0: %(name)s"
    catalogue = getattr(french, "_catalog", {})
    texts = [text for key, text in catalogue.items() if key and isinstance(text, str)]
    assert len(texts) > 400
    spaced = [text for text in texts if re.search(r" [:;?!»]", text)]
    assert spaced == []


@pytest.fixture
def client(ctx):
    users.create_user(ctx, "ada@example.org", role="admin", password=PASSWORD)
    users.create_user(ctx, "eve@example.org", role="editor", password=PASSWORD)
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as test_client:
        yield test_client


def sign_in(client, email: str, **headers: str) -> None:
    page = client.get("/admin/login", headers=headers)
    answer = client.post(
        "/admin/login",
        data={"username": email, "password": PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303


def test_a_users_language_is_kept_with_the_user(ctx, client):
    sign_in(client, "ada@example.org")
    lists = client.get("/admin/lists").text
    assert '<html lang="en">' in lists and "Create list" in lists
    switched = client.post(
        "/admin/language",
        data={"csrf": csrf_of(lists), "lang": "fr", "next": "/admin/lists"},
        follow_redirects=False,
    )
    assert switched.status_code == 303 and switched.headers["location"] == "/admin/lists"
    page = client.get("/admin/lists").text
    assert '<html lang="fr">' in page and "Créer la liste" in page and "Create list" not in page

    client.cookies.clear()  # another browser, no cookie: the user's own choice still holds
    sign_in(client, "ada@example.org", **{"Accept-Language": "en-GB,en"})
    assert "Créer la liste" in client.get("/admin/lists").text
    assert users.find_user(ctx, "ada@example.org").locale == "fr"

    client.cookies.clear()  # another user keeps English
    sign_in(client, "eve@example.org")
    assert "Create list" in client.get("/admin/lists").text


def test_an_unknown_language_is_refused_and_nothing_changes(ctx, client):
    sign_in(client, "ada@example.org")
    page = client.get("/admin/lists").text
    refused = client.post("/admin/language", data={"csrf": csrf_of(page), "lang": "xx"})
    assert refused.status_code == 400 and "is not a language of this installation" in refused.text
    assert users.find_user(ctx, "ada@example.org").locale == ""


def test_the_sign_in_page_follows_the_browser_then_its_switch(client):
    assert "Sign in" in client.get("/admin/login").text
    french = client.get("/admin/login", headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"})
    assert '<html lang="fr">' in french.text and "Se connecter" in french.text
    assert 'id="language-switch"' in french.text and ">English</a>" in french.text

    switched = client.get("/admin/login?lang=fr&next=/admin/lists", follow_redirects=False)
    assert switched.status_code == 303 and "cp_lang=fr" in switched.headers["set-cookie"]
    page = client.get(switched.headers["location"]).text
    assert "Se connecter" in page and 'name="next" value="/admin/lists"' in page
    wrong = client.post(
        "/admin/login",
        data={"username": "ada@example.org", "password": "nope", "csrf": csrf_of(page)},
    )
    assert wrong.status_code == 401 and "adresse e-mail ou mot de passe incorrect" in wrong.text


def test_french_pages_write_dates_and_numbers_the_french_way(ctx, client):
    created = list_service.create_list(ctx, "membres")
    client.headers["Accept-Language"] = "fr"  # a French browser, before and after sign-in
    sign_in(client, "ada@example.org")
    page = client.get("/admin/lists").text
    assert format_day(created.created_at, "fr") in page
    assert re.search(r"\d{1,2} [a-zéû]+\.? 20\d\d", format_day(created.created_at, "fr"))
    assert format_number(1234567, "fr") == "1\u202f234\u202f567"
    assert format_number(1234567, "en") == "1,234,567"
    client.cookies.clear()
    sign_in(client, "eve@example.org")
    refused = client.get("/admin/users")
    expected = gettext_for("fr")("Your role (%(role)s) does not allow this page.")
    assert refused.status_code == 403 and html.escape(expected % {"role": "editor"}) in refused.text
    assert "Non autorisé" in refused.text


TEMPLATE_PROBLEMS = [
    # (html, line, French words the problem must hold, English words it must not)
    (
        '<p>Hi</p>\n<img src="https://cdn.example.org/{{ contact.email }}.png">',
        2,
        ["charge", "expression de modèle", "les e-mails de type marketing ne peuvent pas"],
        ["loads", "emails may not"],
    ),
    ("<p>Hi</p>\n<p>{{ shoe_size }}</p>", 2, ["modèle HTML, ligne 2", "variable inconnue"], []),
    (
        '<p>{% if contact.email.endswith("x") %}<img src="https://t.example.org/p.png">'
        "{% endif %}</p>",
        None,
        ["n'apparaît que pour certains destinataires", "la condition de la ligne 1 est"],
        ["appears"],
    ),
    ('<a href="javascript:alert(1)">x</a>', 1, ["est refusé", "exécutent du code"], []),
]


@pytest.mark.parametrize(("html", "line", "words", "english"), TEMPLATE_PROBLEMS)
def test_a_french_editor_reads_the_template_problems_in_french(
    ctx, client, html, line, words, english
):
    """The problems the services find in a template (their values filled in, the rule they
    quote translated too) come to a French editor in French, with their line."""
    list_id = list_service.create_list(ctx, "news").id
    sign_in(client, "eve@example.org")
    lists = client.get("/admin/lists").text
    client.post("/admin/language", data={"csrf": csrf_of(lists), "lang": "fr", "next": "/"})
    page = client.get("/admin/campaigns/new")
    assert '<html lang="fr">' in page.text
    answer = client.post(
        "/admin/campaigns/check",
        data={
            "csrf": csrf_of(page.text),
            "list_id": str(list_id),
            "kind": "marketing",
            "subject": "x",
            "html": html,
        },
    ).json()
    (problem,) = answer["problems"]
    message = plain(problem["message"])
    assert all(word in message for word in words), message
    assert not any(word in message for word in english), message
    if line is not None:
        assert problem["line"] == line


def test_a_french_admin_reads_what_a_notice_lacks_in_french(ctx, client):
    sign_in(client, "ada@example.org")
    lists = client.get("/admin/lists").text
    client.post("/admin/language", data={"csrf": csrf_of(lists), "lang": "fr", "next": "/"})
    page = client.get("/admin/notices")
    form = {"csrf": csrf_of(page.text), "purpose": "open_tracking", "locale": "fr"}
    lacking = client.post("/admin/notices/check", data={**form, "text": "On vous suit."}).json()
    missing = [plain(m) for m in lacking["missing"]]
    assert "ce qui est collecté : l'ouverture de l'e-mail" in missing
    assert any(m.startswith("qui place le pixel") for m in missing), missing
    assert not any("collected" in m for m in missing)
    refused = client.post("/admin/notices", data={**form, "text": "On vous suit."})
    text = plain(html.unescape(refused.text))
    assert refused.status_code == 400 and "refusée : elle ne dit pas qui place le pixel" in text


def test_a_french_editor_reads_why_an_import_was_refused_in_french(ctx, client):
    """Each refused line's reason, and the refusal around them, in French; nothing stored."""
    target = list_service.create_list(ctx, "news")
    sign_in(client, "eve@example.org")
    lists = client.get("/admin/lists").text
    client.post("/admin/language", data={"csrf": csrf_of(lists), "lang": "fr", "next": "/"})
    page = client.get("/admin/import")
    body = b"email,status\nada@example.org,subscribed\nnot-an-address,\nada@example.org,\n"
    preview = client.post(
        "/admin/import",
        data={"csrf": csrf_of(page.text), "list_id": str(target.id)},
        files={"file": ("people.csv", body, "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    token = re.search(r'action="/admin/import/([0-9a-f]+)/run"', preview.text).group(1)
    client.post(
        f"/admin/import/{token}/run",
        data={
            "csrf": csrf_of(preview.text),
            "list_id": str(target.id),
            "flags_mode": "merge",
            "filename": re.search(r'name="filename" value="([^"]*)"', preview.text).group(1),
        },
    )
    for _ in range(200):
        state = client.get(f"/admin/import/{token}/progress").json()
        if state["finished"]:
            break
        time.sleep(0.05)
    error = plain(state["error"])
    # named as uploaded, not by the name it is kept under
    assert "people.csv : 2 ligne(s) invalide(s), rien n'a été importé" in error, error
    assert "ligne 3 : adresse e-mail invalide 'not-an-address'" in error
    assert "ligne 4 : doublon de la ligne 2" in error
    assert "line" not in error and "bad row" not in error
    shown = (
        html.unescape(client.get(f"/admin/import/{token}").text)
        .replace("\u00a0", " ")
        .replace("\u2019", "'")
    )
    assert "ligne 4 : doublon de la ligne 2" in shown
    assert contact_service.contacts_page(ctx, target.id) == []


def test_a_french_admin_reads_the_installation_check_in_french(ctx, client):
    sign_in(client, "ada@example.org")
    lists = client.get("/admin/lists").text
    client.post("/admin/language", data={"csrf": csrf_of(lists), "lang": "fr", "next": "/"})
    page = (
        html.unescape(client.get("/admin/settings").text)
        .replace("\u00a0", " ")
        .replace("\u2019", "'")
    )
    for words in [
        "stratégie de suivi",
        "clés de signature",
        "1 clé(s) ; les jetons sont signés avec la première",
        "conservation : ouvertures et clics personnels",
        "396 jours (762 jours au plus)",
        "encore la valeur d'exemple, réglez : CLEARPIXEL_ORGANISATION (l'expéditeur nommé",
    ]:
        assert words in page, words
    assert "tokens signed" not in page and "at most" not in page


def test_a_french_admin_reads_the_services_refusals_in_french(ctx, client):
    list_service.create_list(ctx, "news")
    sign_in(client, "ada@example.org")
    lists = client.get("/admin/lists").text
    client.post("/admin/language", data={"csrf": csrf_of(lists), "lang": "fr", "next": "/"})
    page = client.get("/admin/lists").text
    taken = client.post("/admin/lists", data={"csrf": csrf_of(page), "name": "news"})
    assert taken.status_code == 400
    assert "la liste 'news' existe déjà" in plain(html.unescape(taken.text))
