"""The README's configuration table names every setting an installation has."""

from __future__ import annotations

from pathlib import Path

from clearpixel.config import Settings

README = Path(__file__).parent.parent / "README.md"


def test_every_setting_is_in_the_readme_configuration_table():
    table = README.read_text(encoding="utf-8").split("## Configuration", 1)[1]
    missing = []
    for name in Settings.model_fields:
        variable = f"CLEARPIXEL_{name.upper()}"
        short = "_" + name.upper().removeprefix("DKIM_")
        if variable not in table and not (name.startswith("dkim_") and short in table):
            missing.append(variable)
    assert missing == []
