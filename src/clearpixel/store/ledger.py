"""Named queries for the consent ledger: the one place `privacy_flags` are written.

`apply_decisions` locks the ledger head (so concurrent writers chain in turn), reads the
contacts' current flags, appends one chained entry per change, writes the new flags and moves
the head, all inside the caller's transaction (DESIGN R10, R11).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearpixel.domain.ledger import Decision, LedgerEntry, chain, encode_evidence
from clearpixel.store.contacts import UnknownContact, lock_contacts
from clearpixel.store.db import Tx
from clearpixel.store.schema import consent_ledger, contacts, ledger_head

_COLUMNS = [c.name for c in consent_ledger.columns]


def _entry(row: sa.Row[Any]) -> LedgerEntry:
    values = row._asdict()
    values["evidence"] = dict(values["evidence"] or {})
    return LedgerEntry(**values)


def read_head(tx: Tx, *, for_update: bool = False) -> tuple[int, str]:
    """The seq and hash of the last entry; with `for_update`, locked until commit."""
    query = sa.select(ledger_head.c.seq, ledger_head.c.hash).where(ledger_head.c.id == 1)
    if for_update and tx.dialect.name == "postgresql":
        query = query.with_for_update()
    row = tx.execute(query).one()
    return int(row.seq), str(row.hash)


# At or above this many decisions, PostgreSQL writes entries through COPY and flags in one
# UPDATE joined to arrays.
BULK_THRESHOLD = 500


def apply_decisions(
    tx: Tx, decisions: Sequence[Decision], *, keep_unchanged: bool = False
) -> list[LedgerEntry]:
    """Append one ledger entry per decision that changes flags (or every decision when
    `keep_unchanged`), and write the contacts' new flags. Returns the entries written.

    Effects: consent_ledger rows, contacts.privacy_flags and updated_at, ledger_head.
    Raises UnknownContact when a decision names a contact that does not exist.

    The ledger head is locked first, so concurrent writers chain in turn. Every writer of
    `privacy_flags` comes through here and takes that lock before reading flags, so once it
    is held the flags read below cannot change under us. A large batch on PostgreSQL
    therefore reads flags without row locks and writes through COPY: the same entries, the
    same flags, a fraction of the round trips.
    """
    if not decisions:
        return []
    seq, prev_hash = read_head(tx, for_update=True)
    bulk = tx.dialect.name == "postgresql" and len(decisions) >= BULK_THRESHOLD
    ids = sorted({d.contact_id for d in decisions})
    if bulk:
        flags = _current_flags(tx, ids)
    else:
        flags = {cid: c.privacy_flags for cid, c in lock_contacts(tx, ids).items()}
    entries: list[LedgerEntry] = []
    evidence_json: list[str] = []
    evidence_of: tuple[object, str] | None = None
    for decision in decisions:
        if decision.contact_id not in flags:
            raise UnknownContact(f"no contact with id {decision.contact_id}")
        if evidence_of is None or evidence_of[0] is not decision.evidence:
            evidence_of = (decision.evidence, encode_evidence(decision.evidence))
        before = flags[decision.contact_id]
        entry = chain(
            decision,
            seq=seq + 1,
            flags_before=before,
            prev_hash=prev_hash,
            evidence_json=evidence_of[1],
        )
        if entry.flags_after == before and not keep_unchanged:
            continue
        entries.append(entry)
        evidence_json.append(evidence_of[1])
        flags[decision.contact_id] = entry.flags_after
        seq, prev_hash = entry.seq, entry.hash
    if not entries:
        return []
    changed = {e.contact_id: (e.flags_after, e.at) for e in entries}
    if bulk:
        _copy_entries(tx, entries, evidence_json)
        _write_flags(tx, changed)
    else:
        tx.execute(consent_ledger.insert(), [_row(e) for e in entries])
        tx.execute(
            contacts.update()
            .where(contacts.c.id == sa.bindparam("cid"))
            .values(privacy_flags=sa.bindparam("flags"), updated_at=sa.bindparam("now")),
            [{"cid": cid, "flags": f, "now": at} for cid, (f, at) in changed.items()],
        )
    tx.execute(ledger_head.update().where(ledger_head.c.id == 1).values(seq=seq, hash=prev_hash))
    return entries


def _int_array(values: Iterable[int]) -> str:
    """A PostgreSQL integer[] literal (cheaper to send than an adapted list)."""
    return "{" + ",".join(map(str, values)) + "}"


def _current_flags(tx: Tx, ids: Sequence[int]) -> dict[int, int | None]:
    """Contacts' flags by id (PostgreSQL; the caller holds the ledger head lock)."""
    with _raw(tx).cursor() as cursor:
        cursor.execute(
            "SELECT id, privacy_flags FROM contacts WHERE id = ANY(%s::integer[])",
            (_int_array(ids),),
        )
        return dict(cursor.fetchall())


def _raw(tx: Tx) -> Any:
    """The psycopg connection under `tx`, inside the same transaction."""
    return tx.connection.driver_connection


# COPY text format: backslash, tab, newline and carriage return are escaped; NULL is \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def _copy_entries(tx: Tx, entries: Sequence[LedgerEntry], evidence_json: Sequence[str]) -> None:
    """Entries through COPY, as text lines built here (several times cheaper per row than
    adapting each value; a million-entry grant spends most of its Python time on this)."""
    columns = ", ".join(_COLUMNS)
    stamps: dict[datetime, str] = {}
    lines: list[str] = []
    with (
        _raw(tx).cursor() as cursor,
        cursor.copy(f"COPY consent_ledger ({columns}) FROM STDIN") as copy,
    ):
        for e, evidence in zip(entries, evidence_json, strict=True):
            stamp = stamps.get(e.at)
            if stamp is None:
                stamp = stamps[e.at] = e.at.isoformat()
            lines.append(
                "\t".join(
                    (
                        str(e.seq),
                        str(e.contact_id),
                        str(e.list_id),
                        e.email.translate(_COPY_ESCAPES),
                        stamp,
                        e.method.translate(_COPY_ESCAPES),
                        str(e.granted),
                        str(e.revoked),
                        _NULL if e.flags_before is None else str(e.flags_before),
                        str(e.flags_after),
                        e.actor.translate(_COPY_ESCAPES),
                        _NULL if e.notice_id is None else str(e.notice_id),
                        _NULL
                        if e.notice_sha256 is None
                        else e.notice_sha256.translate(_COPY_ESCAPES),
                        evidence.translate(_COPY_ESCAPES),
                        e.prev_hash,
                        e.hash,
                    )
                )
            )
            if len(lines) >= 5000:
                copy.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            copy.write("\n".join(lines) + "\n")


def _write_flags(tx: Tx, changed: dict[int, tuple[int, datetime]]) -> None:
    """New flags in one UPDATE per timestamp, joined to unnested arrays (PostgreSQL): the
    planner walks the primary key for them instead of scanning the table."""
    by_time: dict[datetime, tuple[list[int], list[int]]] = {}
    for cid, (value, at) in changed.items():
        ids, values = by_time.setdefault(at, ([], []))
        ids.append(cid)
        values.append(value)
    with _raw(tx).cursor() as cursor:
        for at, (ids, values) in by_time.items():
            cursor.execute(
                "UPDATE contacts SET privacy_flags = n.flags, updated_at = %s "
                "FROM unnest(%s::integer[], %s::integer[]) AS n(id, flags) "
                "WHERE contacts.id = n.id",
                (at, _int_array(ids), _int_array(values)),
            )


def _row(entry: LedgerEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in _COLUMNS}


def iter_entries(tx: Tx, *, batch: int = 10000) -> Iterator[LedgerEntry]:
    """Every entry in stored seq order, read in batches."""
    last = 0
    while True:
        rows = tx.execute(
            sa.select(consent_ledger)
            .where(consent_ledger.c.seq > last)
            .order_by(consent_ledger.c.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from (_entry(row) for row in rows)
        last = rows[-1].seq


def entries_for_contact(tx: Tx, contact_id: int) -> list[LedgerEntry]:
    """One contact's entries, oldest first."""
    rows = tx.execute(
        sa.select(consent_ledger)
        .where(consent_ledger.c.contact_id == contact_id)
        .order_by(consent_ledger.c.seq)
    )
    return [_entry(row) for row in rows]


def entry_before(tx: Tx, seq: int) -> LedgerEntry | None:
    """The entry just before `seq` in the chain (the link a proof needs to be checked)."""
    row = tx.execute(sa.select(consent_ledger).where(consent_ledger.c.seq == seq - 1)).first()
    return _entry(row) if row else None


def iter_changes_by_contact(tx: Tx) -> Generator[tuple[int, int, int], None, None]:
    """(contact id, granted, revoked) of every entry, by contact then seq, streamed from one
    server-side cursor (what `flags check` folds, merged with the contacts in id order)."""
    result = tx.execution_options(stream_results=True, yield_per=20000).execute(
        sa.select(
            consent_ledger.c.contact_id, consent_ledger.c.granted, consent_ledger.c.revoked
        ).order_by(consent_ledger.c.contact_id, consent_ledger.c.seq)
    )
    try:
        for row in result:
            yield int(row.contact_id), int(row.granted), int(row.revoked)
    finally:
        result.close()
