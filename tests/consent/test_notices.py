"""Notices: the four required elements, per language, checked before a notice is saved."""

from __future__ import annotations

import hashlib

import pytest

from clearpixel.consent.notices import (
    NoticeIncomplete,
    add_notice,
    check_notice,
    default_text,
    ensure_defaults,
    missing_elements,
)
from clearpixel.i18n import SUPPORTED

ORG = "Acme Newsletters"
COMPLETE_EN = (
    "Acme Newsletters places a tracking pixel in its emails. With open tracking we record "
    "when you open an email, the date, and device information. This applies on every device."
)
COMPLETE_FR = (
    "Acme Newsletters place un pixel dans ses e-mails. Avec le suivi des ouvertures nous "
    "enregistrons l'ouverture, sa date et le type d’appareil. Cela vaut sur tous vos appareils."
)


@pytest.mark.parametrize("locale", SUPPORTED)
@pytest.mark.parametrize("purpose", ["open_tracking", "personalisation", "profiling", "surveys"])
def test_shipped_defaults_are_complete(locale, purpose):
    text = default_text(purpose, locale, ORG)
    assert missing_elements(text, locale=locale, purpose=purpose, organisation=ORG) == []


def test_french_default_is_french():
    assert "suivi des ouvertures" in default_text("open_tracking", "fr", ORG)


def test_complete_notices_pass_accents_and_curly_quotes_included():
    assert (
        missing_elements(COMPLETE_EN, locale="en", purpose="open_tracking", organisation=ORG) == []
    )
    assert (
        missing_elements(COMPLETE_FR, locale="fr", purpose="open_tracking", organisation=ORG) == []
    )


@pytest.mark.parametrize(
    ("locale", "text", "remove", "named"),
    [
        ("en", COMPLETE_EN, "Acme Newsletters", "who places the pixel"),
        ("en", COMPLETE_EN, "when you open an email, ", "the opening of the email"),
        ("en", COMPLETE_EN, "the date, ", "the date of the opening"),
        ("en", COMPLETE_EN, "and device information", "information about the device"),
        ("en", COMPLETE_EN, "With open tracking", "the purpose 'open_tracking'"),
        ("en", COMPLETE_EN, "This applies on every device.", "every device"),
        ("fr", COMPLETE_FR, "Acme Newsletters", "who places the pixel"),
        ("fr", COMPLETE_FR, "l'ouverture, ", "the opening of the email"),
        ("fr", COMPLETE_FR, "sa date ", "the date of the opening"),
        ("fr", COMPLETE_FR, "le type d’appareil", "information about the device"),
        ("fr", COMPLETE_FR, "Avec le suivi des ouvertures", "the purpose 'open_tracking'"),
        ("fr", COMPLETE_FR, "Cela vaut sur tous vos appareils.", "every device"),
    ],
)
def test_a_notice_missing_one_element_is_refused_naming_it(locale, text, remove, named):
    assert remove in text
    lacking = text.replace(remove, "")
    with pytest.raises(NoticeIncomplete) as error:
        check_notice(lacking, locale=locale, purpose="open_tracking", organisation=ORG)
    assert named in str(error.value)
    missing = missing_elements(lacking, locale=locale, purpose="open_tracking", organisation=ORG)
    assert len(missing) == 1


def test_an_english_notice_is_not_accepted_as_french():
    missing = missing_elements(COMPLETE_EN, locale="fr", purpose="open_tracking", organisation=ORG)
    assert "that tracking applies on every device used to read email" in missing


def test_defaults_are_stored_once_with_their_sha256(ctx):
    first = ensure_defaults(ctx)
    again = ensure_defaults(ctx)
    assert [n.id for n in first] == [n.id for n in again]
    assert len(first) == len(ctx.purposes) * len(SUPPORTED)
    for notice in first:
        assert notice.version == 1
        assert notice.sha256 == hashlib.sha256(notice.text.encode()).hexdigest()
        assert ctx.settings.organisation in notice.text


def test_add_notice_stores_a_new_version(ctx):
    ensure_defaults(ctx)
    text = COMPLETE_EN.replace("Acme Newsletters", ctx.settings.organisation)
    notice = add_notice(ctx, "open_tracking", "en", text)
    assert notice.version == 2
    assert notice.sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_cli_refuses_an_incomplete_notice_and_names_the_element(cli):
    text = f"{'Example Organisation'} records opens and the date on every device (open tracking)."
    result = cli("notices", "add", "open_tracking", "--locale", "en", "--text", text, ok=False)
    assert result.exit_code == 2
    assert "information about the device" in result.output
    listing = cli("notices", "ls", "--json")
    assert "records opens and the date" not in listing.output


def test_cli_adds_and_lists_notices(cli, tmp_path):
    path = tmp_path / "notice.txt"
    path.write_text(COMPLETE_FR.replace("Acme Newsletters", "Example Organisation"), "utf-8")
    cli("notices", "ls")  # stores the shipped defaults as version 1
    added = cli("notices", "add", "open_tracking", "--locale", "fr", "--file", str(path))
    assert "version 2" in added.output
    listing = cli("notices", "ls")
    assert "open_tracking" in listing.output


def test_cli_refuses_an_unknown_purpose(cli):
    result = cli("notices", "add", "nope", "--locale", "en", "--text", COMPLETE_EN, ok=False)
    assert result.exit_code == 2
    assert "unknown purpose 'nope'" in result.output
