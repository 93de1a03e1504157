"""Languages of the public pages and default texts: Babel catalogues in `clearpixel/locale`,
one Jinja2 environment per language (the i18n extension), and the choice of language from the
contact's `locale` attribute, then the browser's Accept-Language, then English."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
SUPPORTED = ("en", "fr")
DEFAULT_LOCALE = "en"


def N_(message: str) -> str:  # noqa: N802 - the conventional name extractors look for
    """Mark a string for extraction; it is translated where it is shown."""
    return message


PURPOSE_LABELS: dict[str, str] = {
    "open_tracking": N_("open tracking"),
    "personalisation": N_("personalisation"),
    "profiling": N_("profiling"),
}


# How every page states a purpose's state (consent/history.py `PurposeState`).
STATE_LABELS: dict[str, str] = {
    "granted": N_("granted"),
    "refused": N_("refused"),
    "never_asked": N_("never asked"),
}


def state_label(state: str, locale: str) -> str:
    """A purpose state (`granted`, `refused`, `never_asked`) in `locale`."""
    return gettext_for(locale)(STATE_LABELS.get(str(state), str(state)))


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of `locale` (English needs none: msgids are English)."""
    if locale not in SUPPORTED:
        locale = DEFAULT_LOCALE
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


def gettext_for(locale: str) -> Callable[[str], str]:
    return translations(locale).gettext


def purpose_label(name: str, locale: str) -> str:
    """A purpose's wording in `locale`; an installation's own purpose reads as its name."""
    label = PURPOSE_LABELS.get(name)
    if label is None:
        return name.replace("_", " ")
    return gettext_for(locale)(label)


def normalise_locale(value: str) -> str | None:
    """'fr-CA', 'FR_fr' -> 'fr'; None when the language is not one we ship."""
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in SUPPORTED else None


def parse_accept_language(header: str) -> list[str]:
    """Supported languages of an Accept-Language header, best first (q=0 excluded)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        found = normalise_locale(tag)
        if found and quality > 0:
            ranked.append((-quality, index, found))
    seen: list[str] = []
    for _q, _i, locale in sorted(ranked):
        if locale not in seen:
            seen.append(locale)
    return seen


def choose_locale(contact_locale: str = "", accept_language: str = "") -> str:
    """The contact's own language if we ship it, else the browser's best, else English."""
    own = normalise_locale(contact_locale) if contact_locale else None
    if own:
        return own
    ranked = parse_accept_language(accept_language or "")
    return ranked[0] if ranked else DEFAULT_LOCALE


@cache
def environment(locale: str, directory: str) -> Environment:
    """A Jinja2 environment for templates in `directory`, translated into `locale`."""
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["lang"] = locale
    env.globals["purpose_label"] = lambda name: purpose_label(name, locale)
    env.globals["state_label"] = lambda state: state_label(state, locale)
    return env
