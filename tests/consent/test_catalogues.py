"""The French catalogue translates every text of the public pages and the admin UI (singular and
plural forms), and the committed .mo files are compiled from the committed .po files."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).parent.parent.parent
LOCALE = ROOT / "src" / "clearpixel" / "locale"


def _extracted() -> set[str]:
    with open(LOCALE / "babel.cfg") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {"_": None, "N_": None, "ngettext": (1, 2), "say_n": (2, 3)}
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords)
    return {message for _file, _line, message, _comments, _context in found}


def translated(catalogue, text) -> bool:
    """`text` (a msgid, or a (singular, plural) pair) has every form translated."""
    entry = catalogue.get(text)
    if entry is None:
        return False
    forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
    return all(forms) and not entry.fuzzy


def test_every_text_has_a_french_translation():
    with open(LOCALE / "fr" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        french = read_po(handle, locale="fr")
    texts = _extracted()
    assert len(texts) > 50
    untranslated = [t for t in texts if not translated(french, t)]
    assert untranslated == [], "run the pybabel commands in src/clearpixel/locale/README.md"


def test_compiled_catalogues_match_their_sources():
    for locale in ("fr", "en"):
        folder = LOCALE / locale / "LC_MESSAGES"
        with open(folder / "messages.po", "rb") as po, open(folder / "messages.mo", "rb") as mo:
            source, compiled = read_po(po), read_mo(mo)
        expected = {
            _key(m.id): _key(m.string) for m in source if m.id and m.string and any(m.string)
        }
        # an untranslated plural is compiled as its msgids (the English forms)
        got = {
            _key(m.id): _key(m.string)
            for m in compiled
            if m.id and (_key(m.id) in expected or _key(m.string) != _key(m.id))
        }
        assert got == expected


def _key(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value
