"""`contacts export`: a list's contacts as CSV or JSON, streamed row by row.

Columns: `email`, `privacy_flags` (empty / null when never asked), `status`, then one column
per attribute. `last_open_date` is never exported: deliverability data stays out of
per-contact output (DESIGN R6). No CSV cell is left for a spreadsheet to read as a formula
(`domain.spreadsheet`; `contacts import` reads such a cell back unchanged).
"""

from __future__ import annotations

import csv
import json
from enum import StrEnum
from typing import TextIO

from clearpixel.context import Context
from clearpixel.domain.spreadsheet import safe_row
from clearpixel.store.contacts import attribute_keys, iter_contacts
from clearpixel.store.lists import get_list


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


def export_contacts(
    ctx: Context, out: TextIO, *, list_name: str, fmt: ExportFormat = ExportFormat.CSV
) -> int:
    """Write the list's contacts to `out` in id order; returns how many were written."""
    count = 0
    with ctx.db.connect() as conn:
        target = get_list(conn, list_name)
        keys = attribute_keys(conn, target.id)
        if fmt is ExportFormat.CSV:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(safe_row(["email", "privacy_flags", "status", *keys]))
            for contact in iter_contacts(conn, target.id):
                flags = "" if contact.privacy_flags is None else str(contact.privacy_flags)
                writer.writerow(
                    safe_row(
                        [
                            contact.email,
                            flags,
                            contact.status,
                            *(_cell(contact.attributes.get(key)) for key in keys),
                        ]
                    )
                )
                count += 1
            return count
        out.write("[")
        for contact in iter_contacts(conn, target.id):
            record = {
                "email": contact.email,
                "privacy_flags": contact.privacy_flags,
                "status": contact.status,
                "attributes": contact.attributes,
            }
            out.write(",\n  " if count else "\n  ")
            out.write(json.dumps(record, ensure_ascii=False, sort_keys=True))
            count += 1
        out.write("\n]\n" if count else "]\n")
    return count


def _cell(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
