"""Consent notices: what a person reads before choosing, versioned per purpose and language.

A notice must say four things (CNIL deliberation 2026-042): who places the pixel, what is
collected (the opening, its date, information about the device), the purpose, and that the
tracking applies on every device used to read email. `missing_elements` checks a text against
documented markers, per language; saving a notice that lacks one is refused, naming it.

Markers (matched case- and accent-insensitively; any one phrase of a list is enough; the
tables `COLLECTED`, `EVERY_DEVICE` and `PURPOSE_MARKERS` below are the reference):

- who places the pixel: the organisation's name (setting `organisation`), any language.
- collected, the opening: en "open"; fr "ouvre", "ouvert", "ouverture" (a purpose's wording,
  such as "open tracking", does not count here).
- collected, the date: en and fr "date".
- collected, device information: en "device information", "information about your device",
  "type of device", "device type"; fr "informations sur votre appareil", "informations sur
  l'appareil", "type d'appareil", "type de terminal".
- the purpose: en "open tracking", "personalis"/"personaliz", "profiling"; fr "suivi des
  ouvertures", "personnalis", "profilage"; an installation's own purpose: its name, with `_`
  read as a space.
- every device: en "every device", "all devices", "all your devices", "each device", "any
  device"; fr "tous les appareils", "tous vos appareils", "chaque appareil", "tout appareil".

French and English defaults for each purpose ship in the Babel catalogues and are stored as
version 1 the first time a notice is needed (`current_notice`), with the organisation's name.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from clearpixel.context import Context
from clearpixel.domain.errors import N_, ClearpixelError, Message
from clearpixel.i18n import SUPPORTED, gettext_for
from clearpixel.store import Tx
from clearpixel.store.notices import Notice, all_notices, insert_first_version, latest_notice
from clearpixel.store.notices import insert_notice as _insert_notice

MAX_NOTICE_CHARS = 20_000


class NoticeIncomplete(ClearpixelError, ValueError):
    """A notice text that lacks an element the law asks for; the message names each."""


@dataclass(frozen=True, slots=True)
class Element:
    name: str
    markers: dict[str, tuple[str, ...]]


COLLECTED = (
    Element(
        N_("what is collected: the opening of the email"),
        {"en": ("open",), "fr": ("ouvre", "ouvert", "ouverture")},
    ),
    Element(N_("what is collected: the date of the opening"), {"en": ("date",), "fr": ("date",)}),
    Element(
        N_("what is collected: information about the device"),
        {
            "en": (
                "device information",
                "information about your device",
                "type of device",
                "device type",
            ),
            "fr": (
                "informations sur votre appareil",
                "informations sur l'appareil",
                "type d'appareil",
                "type de terminal",
            ),
        },
    ),
)
EVERY_DEVICE = Element(
    N_("that tracking applies on every device used to read email"),
    {
        "en": ("every device", "all devices", "all your devices", "each device", "any device"),
        "fr": ("tous les appareils", "tous vos appareils", "chaque appareil", "tout appareil"),
    },
)
PURPOSE_MARKERS: dict[str, dict[str, tuple[str, ...]]] = {
    "open_tracking": {"en": ("open tracking",), "fr": ("suivi des ouvertures",)},
    "personalisation": {"en": ("personalis", "personaliz"), "fr": ("personnalis",)},
    "profiling": {"en": ("profiling",), "fr": ("profilage",)},
}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def sha256_of(text: str) -> str:
    """The SHA-256 (hex) of the exact text, UTF-8 encoded."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def missing_elements(text: str, *, locale: str, purpose: str, organisation: str) -> list[str]:
    """The required elements `text` does not state, in order, in English; [] when the notice
    is complete. Pure: no I/O."""
    found = missing_messages(text, locale=locale, purpose=purpose, organisation=organisation)
    return [str(m) for m in found]


def missing_messages(text: str, *, locale: str, purpose: str, organisation: str) -> list[Message]:
    """The required elements `text` does not state, in order, as catalogue texts; [] when the
    notice is complete. Pure: no I/O. `locale` must be a shipped language (its markers are
    defined)."""
    if locale not in SUPPORTED:
        raise NoticeIncomplete(
            N_("no notice markers for language %(locale)r (use one of %(known)s)"),
            locale=locale,
            known=", ".join(SUPPORTED),
        )
    folded = _fold(text)
    missing: list[Message] = []
    if _fold(organisation) not in folded:
        missing.append(
            Message(
                N_("who places the pixel (the organisation's name, %(organisation)r)"),
                organisation=organisation,
            )
        )
    # "open tracking" names the purpose; it does not say that the opening is collected
    collected_text = folded
    for markers in PURPOSE_MARKERS.values():
        for marker in markers[locale]:
            collected_text = collected_text.replace(_fold(marker), " ")
    for element in COLLECTED:
        if not any(_fold(m) in collected_text for m in element.markers[locale]):
            missing.append(Message(element.name))
    purpose_markers = PURPOSE_MARKERS.get(purpose, {}).get(locale) or (purpose.replace("_", " "),)
    if not any(_fold(m) in folded for m in purpose_markers):
        missing.append(
            Message(
                N_("the purpose %(purpose)r (say: %(markers)s)"),
                purpose=purpose,
                markers=" / ".join(purpose_markers),
            )
        )
    if not any(_fold(m) in folded for m in EVERY_DEVICE.markers[locale]):
        missing.append(Message(EVERY_DEVICE.name))
    return missing


def check_notice(text: str, *, locale: str, purpose: str, organisation: str) -> None:
    """Raise NoticeIncomplete naming every missing element."""
    if not text.strip():
        raise NoticeIncomplete(N_("a notice cannot be empty"))
    if len(text) > MAX_NOTICE_CHARS:
        raise NoticeIncomplete(
            N_("a notice has at most %(most)s characters"), most=MAX_NOTICE_CHARS
        )
    missing = missing_messages(text, locale=locale, purpose=purpose, organisation=organisation)
    if missing:
        raise NoticeIncomplete(
            N_("notice for %(purpose)r (%(locale)s) refused: it does not say %(missing)s"),
            purpose=purpose,
            locale=locale,
            missing=Message.joined(missing, N_("%(before)s; %(after)s")),
        )


# Default texts: msgids in English, French in the catalogue. %(organisation)s is filled in
# when the default is stored, so the stored (and hashed) text is exactly what people read.
DEFAULT_TEXTS: dict[str, str] = {
    "open_tracking": N_(
        "%(organisation)s places a small invisible image (a tracking pixel) in the emails it "
        "sends you. If you agree to open tracking, each time you open one of our emails we "
        "record that it was opened, the date and time of the opening, and information about "
        "your device (type of device, email program, approximate network address). We use "
        "this only to measure how our emails are read. This tracking applies on every device "
        "you use to read your email. Without your consent we count opens only anonymously. You "
        "can withdraw at any time from the link at the bottom of each email."
    ),
    "personalisation": N_(
        "%(organisation)s places a small invisible image (a tracking pixel) in the emails it "
        "sends you. If you agree to personalisation, the record of each opening of our emails "
        "(the date and time, and information about your device such as its type) is used to "
        "personalise the content we send you. This applies on every device you use to read "
        "your email. You can withdraw at any time from the link at the bottom of each email."
    ),
    "profiling": N_(
        "%(organisation)s places a small invisible image (a tracking pixel) in the emails it "
        "sends you. If you agree to profiling, the record of each opening of our emails (the "
        "date and time, and information about your device such as its type) is used to build a "
        "profile of your interests. This applies on every device you use to read your email. "
        "You can withdraw at any time from the link at the bottom of each email."
    ),
}
GENERIC_TEXT = N_(
    "%(organisation)s places a small invisible image (a tracking pixel) in the emails it sends "
    "you. If you agree, the record of each opening of our emails (the date and time, and "
    "information about your device such as its type) is used for this purpose: %(purpose)s. "
    "This applies on every device you use to read your email. You can withdraw at any time "
    "from the link at the bottom of each email."
)


def default_text(purpose: str, locale: str, organisation: str) -> str:
    """The shipped default notice for `purpose` in `locale`, naming `organisation`."""
    _ = gettext_for(locale)
    template = DEFAULT_TEXTS.get(purpose, GENERIC_TEXT)
    return _(template) % {"organisation": organisation, "purpose": purpose.replace("_", " ")}


def current_notice(tx: Tx, ctx: Context, purpose: str, locale: str) -> Notice:
    """The newest notice for (purpose, locale); stores the default as version 1 first if the
    installation has none (concurrent callers settle on one row)."""
    found = latest_notice(tx, purpose, locale)
    if found is not None:
        return found
    text = default_text(purpose, locale, ctx.settings.organisation)
    insert_first_version(
        tx, purpose=purpose, locale=locale, text=text, sha256=sha256_of(text), now=ctx.now()
    )
    found = latest_notice(tx, purpose, locale)
    assert found is not None
    return found


def ensure_defaults(ctx: Context) -> list[Notice]:
    """Store the default notice of every purpose in every shipped language (where none)."""
    with ctx.db.begin() as tx:
        return [
            current_notice(tx, ctx, name, locale)
            for name in ctx.purposes.names()
            for locale in SUPPORTED
        ]


def add_notice(ctx: Context, purpose: str, locale: str, text: str) -> Notice:
    """Check `text` and store it as the next version for (purpose, locale).
    Raises NoticeIncomplete naming what is missing, FlagsError for an unknown purpose."""
    ctx.purposes.bit(purpose)
    text = text.strip()
    check_notice(text, locale=locale, purpose=purpose, organisation=ctx.settings.organisation)
    with ctx.db.begin() as tx:
        return _insert_notice(
            tx, purpose=purpose, locale=locale, text=text, sha256=sha256_of(text), now=ctx.now()
        )


def list_notices(ctx: Context) -> list[Notice]:
    with ctx.db.connect() as conn:
        return all_notices(conn)
