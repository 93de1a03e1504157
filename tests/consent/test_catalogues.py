"""The French catalogue translates every text of the public pages, and the committed .mo files
are compiled from the committed .po files."""

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
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords={"_": None, "N_": None})
    return {message for _file, _line, message, _comments, _context in found}


def test_every_text_has_a_french_translation():
    with open(LOCALE / "fr" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        french = read_po(handle, locale="fr")
    texts = _extracted()
    assert len(texts) > 50
    untranslated = [t for t in texts if not (french.get(t) and french.get(t).string)]
    assert untranslated == [], "run the pybabel commands in src/clearpixel/locale/README.md"


def test_compiled_catalogues_match_their_sources():
    for locale in ("fr", "en"):
        folder = LOCALE / locale / "LC_MESSAGES"
        with open(folder / "messages.po", "rb") as po, open(folder / "messages.mo", "rb") as mo:
            source, compiled = read_po(po), read_mo(mo)
        expected = {m.id: m.string for m in source if m.id and m.string}
        assert {m.id: m.string for m in compiled if m.id} == expected
