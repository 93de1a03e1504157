"""Named queries for a CSV import on PostgreSQL: the checked rows go into a TEMP staging table
through COPY in the same pass that validates them, then set-based statements insert the new
contacts, update the existing ones and find the flags that change. The staging table lives
in the import's transaction and is dropped at its end (ON COMMIT DROP), so a failed import
stores nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from clearpixel.store.db import Tx
from clearpixel.store.ledger_copy import copy_text

# One checked row: (line, normalised email, flags or None, attributes as JSON, status or None).
StagedRow = tuple[int, str, int | None, str, str | None]

_NULL = "\\N"


def _raw(tx: Tx) -> Any:
    return tx.connection.driver_connection


def stage_rows(tx: Tx, rows: Iterable[StagedRow]) -> None:
    """Create the staging table and COPY `rows` into it (consumed as they come: the caller may
    stream them from the file). Nothing else may run on `tx` while `rows` is consumed."""
    with _raw(tx).cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE import_staging (line integer NOT NULL, email text NOT NULL, "
            "flags integer, attributes jsonb NOT NULL, status text) ON COMMIT DROP"
        )
        with cursor.copy("COPY import_staging FROM STDIN") as copy:
            lines: list[str] = []
            for line, email, flags, attributes, status in rows:
                lines.append(
                    f"{line}\t{copy_text(email)}\t{_NULL if flags is None else flags}\t"
                    f"{copy_text(attributes)}\t{_NULL if status is None else status}"
                )
                if len(lines) >= 5000:
                    copy.write("\n".join(lines) + "\n")
                    lines = []
            if lines:
                copy.write("\n".join(lines) + "\n")
        cursor.execute("ANALYZE import_staging")


def drop_staged_lines(tx: Tx, lines: Sequence[int]) -> None:
    """Leave these lines out of the import (duplicates of an earlier line)."""
    if lines:
        with _raw(tx).cursor() as cursor:
            cursor.execute(
                "DELETE FROM import_staging WHERE line = ANY(%s::integer[])",
                ("{" + ",".join(map(str, lines)) + "}",),
            )


def update_existing_from_staging(tx: Tx, list_id: int, *, now: datetime) -> int:
    """Existing contacts of the list named by a staged row: the row's non-empty attributes
    set, `unsubscribed` applied (never re-subscribed). Returns how many changed."""
    with _raw(tx).cursor() as cursor:
        cursor.execute(
            "UPDATE contacts AS c SET attributes = c.attributes || s.attributes, "
            "status = CASE WHEN s.status = 'unsubscribed' THEN 'unsubscribed' ELSE c.status END, "
            "updated_at = %(now)s "
            "FROM import_staging AS s "
            "WHERE c.list_id = %(list)s AND c.email = s.email "
            "AND (c.attributes || s.attributes <> c.attributes "
            "OR (s.status = 'unsubscribed' AND c.status <> 'unsubscribed'))",
            {"list": list_id, "now": now},
        )
        return int(cursor.rowcount)


def insert_new_from_staging(tx: Tx, list_id: int, *, now: datetime) -> int:
    """Staged rows whose email the list does not hold become contacts (flags NULL), ids in
    line order. Returns how many were inserted."""
    with _raw(tx).cursor() as cursor:
        cursor.execute(
            "INSERT INTO contacts (list_id, email, attributes, status, created_at, updated_at) "
            "SELECT %(list)s, s.email, s.attributes, COALESCE(s.status, 'subscribed'), "
            "%(now)s, %(now)s FROM import_staging AS s ORDER BY s.line "
            "ON CONFLICT (list_id, email) DO NOTHING",
            {"list": list_id, "now": now},
        )
        return int(cursor.rowcount)


def iter_staged_flag_changes(
    tx: Tx, list_id: int, *, replace: bool, batch: int = 20000
) -> Iterator[list[tuple[int, int, str, int | None, int, int]]]:
    """(line, contact id, email, current flags, own refusals, file flags) of the staged rows
    whose flags
    value would change the contact (merge: adds a bit or sets a NULL; replace: differs), in
    line order, in batches from one server-side cursor; the caller may run other statements
    between batches."""
    changes = (
        "c.privacy_flags IS DISTINCT FROM s.flags"
        if replace
        else "(c.privacy_flags IS NULL OR s.flags & ~c.privacy_flags <> 0)"
    )
    with _raw(tx).cursor(name="import_flag_changes") as cursor:
        cursor.itersize = batch
        cursor.execute(
            "SELECT s.line, c.id, s.email, c.privacy_flags, c.refused_flags, s.flags "  # noqa: S608
            "FROM import_staging AS s JOIN contacts AS c "
            "ON c.list_id = %(list)s AND c.email = s.email "
            f"WHERE s.flags IS NOT NULL AND {changes} ORDER BY s.line",
            {"list": list_id},
        )
        while rows := cursor.fetchmany(batch):
            yield rows
