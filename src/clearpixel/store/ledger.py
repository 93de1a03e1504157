"""Named queries for the consent ledger: the one place `privacy_flags` are written.

`apply_decisions` locks the ledger head (so concurrent writers chain in turn), reads the
contacts' current flags, appends one chained entry per change, writes the new flags and moves
the head, all inside the caller's transaction (DESIGN R10, R11).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

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


# At or above this many decisions, PostgreSQL writes through COPY and one UPDATE ... FROM.
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
        flags[decision.contact_id] = entry.flags_after
        seq, prev_hash = entry.seq, entry.hash
    if not entries:
        return []
    changed = {e.contact_id: (e.flags_after, e.at) for e in entries}
    if bulk:
        _copy_entries(tx, entries)
        _copy_flags(tx, changed)
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


def _current_flags(tx: Tx, ids: Sequence[int]) -> dict[int, int | None]:
    """Contacts' flags by id (PostgreSQL; the caller holds the ledger head lock)."""
    rows = tx.execute(
        sa.select(contacts.c.id, contacts.c.privacy_flags).where(
            contacts.c.id == sa.func.any(sa.bindparam("ids", type_=ARRAY(sa.Integer)))
        ),
        {"ids": list(ids)},
    )
    return {row.id: row.privacy_flags for row in rows}


def _raw(tx: Tx) -> Any:
    """The psycopg connection under `tx`, inside the same transaction."""
    return tx.connection.driver_connection


def _copy_entries(tx: Tx, entries: Sequence[LedgerEntry]) -> None:
    columns = ", ".join(_COLUMNS)
    with (
        _raw(tx).cursor() as cursor,
        cursor.copy(f"COPY consent_ledger ({columns}) FROM STDIN") as copy,
    ):
        evidence_of: tuple[object, str] | None = None
        for e in entries:
            if evidence_of is None or evidence_of[0] != e.evidence:
                evidence_of = (e.evidence, encode_evidence(e.evidence))
            copy.write_row(
                (
                    e.seq,
                    e.contact_id,
                    e.list_id,
                    e.email,
                    e.at,
                    e.method,
                    e.granted,
                    e.revoked,
                    e.flags_before,
                    e.flags_after,
                    e.actor,
                    e.notice_id,
                    e.notice_sha256,
                    evidence_of[1],
                    e.prev_hash,
                    e.hash,
                )
            )


def _copy_flags(tx: Tx, changed: dict[int, tuple[int, datetime]]) -> None:
    """New flags through a staging table and one UPDATE ... FROM (PostgreSQL)."""
    tx.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS ledger_new_flags "
        "(id integer PRIMARY KEY, flags integer NOT NULL, at timestamptz NOT NULL) "
        "ON COMMIT DROP"
    )
    tx.exec_driver_sql("TRUNCATE ledger_new_flags")
    with (
        _raw(tx).cursor() as cursor,
        cursor.copy("COPY ledger_new_flags (id, flags, at) FROM STDIN") as copy,
    ):
        for cid, (value, at) in changed.items():
            copy.write_row((cid, value, at))
    tx.exec_driver_sql(
        "UPDATE contacts SET privacy_flags = n.flags, updated_at = n.at "
        "FROM ledger_new_flags n WHERE contacts.id = n.id"
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
