"""Languages of the public pages, the default texts and the admin UI: Babel catalogues in
`clearpixel/locale`, one Jinja2 environment per language and folder (the i18n extension, with
dates and numbers formatted for the language), and the choice of language: a contact's (or an
admin user's) own, then the browser's Accept-Language, then English.

French texts follow French typography wherever they come from: `translations()` puts a no-break
space before `:` `;` `?` `!` `»` and after `«` in every French text, so a translator types plain
spaces and a page never breaks a line before a colon."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import dates, numbers
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from clearpixel.domain.errors import N_ as N_  # re-exported: the pages mark texts with it

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
NBSP = "\u00a0"
# French: a no-break space before the high punctuation and inside guillemets.
_BEFORE = re.compile(r"[ \u00a0]+([:;?!»])")
_AFTER = re.compile(r"«[ \u00a0]+")
SUPPORTED = ("en", "fr")
DEFAULT_LOCALE = "en"


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


# How the admin names a campaign's status and a message's kind (the stored values are codes).
CAMPAIGN_STATUS_LABELS: dict[str, str] = {
    "draft": N_("draft"),
    "scheduled": N_("scheduled"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
    "deleted": N_("deleted"),
}
KIND_LABELS: dict[str, str] = {
    "marketing": N_("marketing"),
    "transactional": N_("transactional"),
    "security": N_("security"),
    "consent_request": N_("consent request"),
}


def word_label(labels: dict[str, str], value: str, locale: str) -> str:
    """A stored code (`labels`' key) as people read it in `locale`; an unknown one as is."""
    found = labels.get(str(value))
    return gettext_for(locale)(found) if found else str(value).replace("_", " ")


def state_label(state: str, locale: str) -> str:
    """A purpose state (`granted`, `refused`, `never_asked`) in `locale`."""
    return gettext_for(locale)(STATE_LABELS.get(str(state), str(state)))


def french_spacing(text: str) -> str:
    """`text` with a no-break space before `:` `;` `?` `!` `»` and after `«` (where a space
    stands; a URL's `https:` keeps its colon)."""
    return _AFTER.sub("«" + NBSP, _BEFORE.sub(NBSP + r"\1", text))


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of `locale` (English needs none: msgids are English); a French
    catalogue's texts get French spacing (`french_spacing`) once, here."""
    if locale not in SUPPORTED:
        locale = DEFAULT_LOCALE
    loaded = Translations.load(str(LOCALE_DIR), [locale], domain="messages")
    if locale == "fr":
        catalog = getattr(loaded, "_catalog", {})
        for key, text in list(catalog.items()):
            if key and isinstance(text, str):
                catalog[key] = french_spacing(text)
    return loaded


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


def format_number(value: float | int, locale: str) -> str:
    """A count or amount as `locale` writes it (1,234 · 1 234)."""
    return numbers.format_decimal(value, locale=locale)


def format_percent(share: float, locale: str) -> str:
    """A share (0.25) as a whole percent in `locale` (25% · 25 %)."""
    return numbers.format_percent(share, locale=locale)


def format_when(
    moment: datetime | None, locale: str, *, seconds: bool = False, zone: tzinfo = UTC
) -> str:
    """A stored moment (UTC) as `locale` writes a date and a 24-hour time, in `zone`; "" for
    None."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(zone)
    day = dates.format_date(moment, format="medium", locale=locale)
    time = dates.format_time(moment, "HH:mm:ss" if seconds else "HH:mm", locale=locale)
    pattern = str(dates.get_datetime_format("medium", locale=locale))
    return pattern.replace("{1}", day).replace("{0}", time).replace("'", "")


def format_planned(moment: datetime, zone: ZoneInfo, locale: str | None = None) -> str:
    """A planned moment (a scheduled send) in the installation's zone, named, with the UTC
    time beside it unless the zone is UTC; as `locale` writes it, or ISO-like for the CLI
    and logs (None: 2026-12-01 09:00)."""

    def written(in_zone: tzinfo) -> str:
        if locale is None:
            return f"{moment.astimezone(in_zone):%Y-%m-%d %H:%M}"
        return format_when(moment, locale, zone=in_zone)

    text = f"{written(zone)} {zone.key}"
    if moment.astimezone(zone).utcoffset() != timedelta(0) or zone.key != "UTC":
        text += f" ({written(UTC)} UTC)"
    return text


def format_day(moment: datetime | None, locale: str) -> str:
    """A stored moment's date in `locale` (Nov 30, 2026 · 30 nov. 2026); "" for None."""
    if moment is None:
        return ""
    return dates.format_date(moment, format="medium", locale=locale)


@cache
def environment(locale: str, directory: str, *, compact: bool = True) -> Environment:
    """A Jinja2 environment for templates in `directory`, translated into `locale`, with
    the filters `num`, `percent`, `when`, `when_s` and `day` formatting for it (`compact`:
    block tags leave no blank line)."""
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=compact,
        lstrip_blocks=compact,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["lang"] = locale
    env.globals["purpose_label"] = lambda name: purpose_label(name, locale)
    env.globals["state_label"] = lambda state: state_label(state, locale)
    env.globals["status_label"] = lambda code: word_label(CAMPAIGN_STATUS_LABELS, code, locale)
    env.globals["kind_label"] = lambda code: word_label(KIND_LABELS, code, locale)
    env.globals["status_labels"] = {
        code: gettext_for(locale)(text) for code, text in CAMPAIGN_STATUS_LABELS.items()
    }
    env.filters["num"] = lambda value: format_number(value, locale)
    env.filters["percent"] = lambda share: format_percent(share, locale)
    env.filters["when"] = lambda moment: format_when(moment, locale)
    env.filters["when_s"] = lambda moment: format_when(moment, locale, seconds=True)
    env.filters["day"] = lambda moment: format_day(moment, locale)
    return env
