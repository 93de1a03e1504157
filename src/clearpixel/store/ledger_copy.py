"""PostgreSQL's fast path for the ledger writers (`store/ledger.py`): entries through COPY
text written here, flags and own refusals read and written with integer arrays joined through
`unnest`. Only the ledger writers call these, inside their own transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from clearpixel.domain.ledger import LedgerEntry
from clearpixel.store.db import Tx
from clearpixel.store.schema import consent_ledger, ledger_personal

COLUMNS = [c.name for c in consent_ledger.columns]
PERSONAL_COLUMNS = [c.name for c in ledger_personal.columns]
# (seq, contact_id, email, flags_before, flags_after, granted, revoked, evidence_json,
# prev_hash, hash, personal, salt) of one chained entry.
Chained = tuple[int, int, str, int | None, int, int, int, str, str, str, str, str]


def _copy(tx: Tx, table: str, columns: list[str], lines: Iterable[str]) -> None:
    """Text lines through COPY into `table`, written 5000 at a time."""
    with (
        raw(tx).cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        chunk: list[str] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= 5000:
                copy.write("\n".join(chunk) + "\n")
                chunk = []
        if chunk:
            copy.write("\n".join(chunk) + "\n")


def copy_chained(
    tx: Tx, chained: Sequence[Chained], *, list_id: int, at: datetime, method: str, actor: str
) -> None:
    """Chained entries through COPY text, the shared columns written once, and their
    openings into ledger_personal."""
    esc = _COPY_ESCAPES
    stamp, method_text = at.isoformat(), method.translate(esc)
    notice_and_actor = "\t".join((actor.translate(esc), _NULL, _NULL))
    _copy(
        tx,
        "consent_ledger",
        COLUMNS,
        (
            f"{seq}\t{cid}\t{list_id}\t{stamp}\t{method_text}\t"
            f"{granted}\t{revoked}\t{_NULL if before is None else before}\t{after}\t"
            f"{notice_and_actor}\t{personal}\t{prev}\t{digest}"
            for seq, cid, _, before, after, granted, revoked, _, prev, digest, personal, _ in (
                chained
            )
        ),
    )
    _copy(
        tx,
        "ledger_personal",
        PERSONAL_COLUMNS,
        (f"{c[0]}\t{copy_text(c[2])}\t{copy_text(c[7])}\t{c[11]}" for c in chained),
    )


def int_array(values: Iterable[int]) -> str:
    """A PostgreSQL integer[] literal (cheaper to send than an adapted list)."""
    return "{" + ",".join(map(str, values)) + "}"


def current_flags(tx: Tx, ids: Sequence[int]) -> dict[int, tuple[int | None, int]]:
    """Contacts' (flags, own refusals) by id (PostgreSQL; the caller holds the head lock)."""
    with raw(tx).cursor() as cursor:
        cursor.execute(
            "SELECT id, privacy_flags, refused_flags FROM contacts WHERE id = ANY(%s::integer[])",
            (int_array(ids),),
        )
        return {cid: (value, refused) for cid, value, refused in cursor.fetchall()}


def raw(tx: Tx) -> Any:
    """The psycopg connection under `tx`, inside the same transaction."""
    return tx.connection.driver_connection


# COPY text format: backslash, tab, newline and carriage return are escaped; NULL is \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def copy_text(value: str) -> str:
    """`value` escaped for a COPY text field; four scans in C skip `translate` (a lookup per
    character) for the values that need nothing, nearly all of them."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def copy_entries(tx: Tx, entries: Sequence[LedgerEntry], evidence_json: Sequence[str]) -> None:
    """Entries through COPY, as text lines built here (several times cheaper per row than
    adapting each value; a million-entry grant spends most of its Python time on this), and
    their openings into ledger_personal."""
    stamps: dict[datetime, str] = {}

    def stamp(at: datetime) -> str:
        text = stamps.get(at)
        if text is None:
            text = stamps[at] = at.isoformat()
        return text

    _copy(
        tx,
        "consent_ledger",
        COLUMNS,
        (
            "\t".join(
                (
                    str(e.seq),
                    str(e.contact_id),
                    str(e.list_id),
                    stamp(e.at),
                    e.method.translate(_COPY_ESCAPES),
                    str(e.granted),
                    str(e.revoked),
                    _NULL if e.flags_before is None else str(e.flags_before),
                    str(e.flags_after),
                    e.actor.translate(_COPY_ESCAPES),
                    _NULL if e.notice_id is None else str(e.notice_id),
                    _NULL if e.notice_sha256 is None else e.notice_sha256.translate(_COPY_ESCAPES),
                    e.personal,
                    e.prev_hash,
                    e.hash,
                )
            )
            for e in entries
        ),
    )
    _copy(
        tx,
        "ledger_personal",
        PERSONAL_COLUMNS,
        (
            f"{e.seq}\t{copy_text(e.email)}\t{copy_text(evidence)}\t{e.salt}"
            for e, evidence in zip(entries, evidence_json, strict=True)
        ),
    )


def write_flags(tx: Tx, changed: dict[int, tuple[int, int, datetime]]) -> None:
    """New flags and own refusals in one UPDATE per timestamp, joined to unnested arrays
    (PostgreSQL): the planner walks the primary key for them instead of scanning the table."""
    by_time: dict[datetime, tuple[list[int], list[int], list[int]]] = {}
    for cid, (value, refused, at) in changed.items():
        ids, values, refusals = by_time.setdefault(at, ([], [], []))
        ids.append(cid)
        values.append(value)
        refusals.append(refused)
    with raw(tx).cursor() as cursor:
        for at, (ids, values, refusals) in by_time.items():
            cursor.execute(
                "UPDATE contacts SET privacy_flags = n.flags, refused_flags = n.refused, "
                "updated_at = %s "
                "FROM unnest(%s::integer[], %s::integer[], %s::integer[]) AS n(id, flags, refused) "
                "WHERE contacts.id = n.id",
                (at, int_array(ids), int_array(values), int_array(refusals)),
            )
