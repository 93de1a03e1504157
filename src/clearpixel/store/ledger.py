"""Named queries for the consent ledger and the consent columns of contacts: persistence only.

What a change does (which bits it may grant, its chained entry, its effects) is decided by
the one consent writer, `consent/writer.py`, the only caller of the writes here: the head
read and locked, contacts' flags read, entries inserted (row by row, or through COPY on
PostgreSQL for large batches), contacts' flags written, the head moved (DESIGN R10, R11).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearpixel.domain.ledger import LedgerEntry
from clearpixel.store.contacts import iter_flag_targets, lock_contacts, set_cooldown
from clearpixel.store.db import Tx
from clearpixel.store.ledger_copy import (
    COLUMNS,
    Chained,
    copy_chained,
    copy_entries,
    current_flags,
    int_array,
    raw,
    write_flags,
)
from clearpixel.store.schema import consent_ledger, contacts, ledger_head, ledger_personal

__all__ = ["Chained"]


def entry_select() -> sa.Select[Any]:
    """Ledger entries with their openings (email, evidence, salt; NULL once erased)."""
    return sa.select(
        consent_ledger,
        ledger_personal.c.email,
        ledger_personal.c.evidence,
        ledger_personal.c.salt,
    ).select_from(
        consent_ledger.outerjoin(ledger_personal, ledger_personal.c.seq == consent_ledger.c.seq)
    )


def _entry(row: sa.Row[Any]) -> LedgerEntry:
    values = row._asdict()
    values["evidence"] = dict(values["evidence"] or {})
    values["email"] = values["email"] or ""
    return LedgerEntry(**values)


def origin(tx: Tx) -> tuple[int, str, datetime] | None:
    """The former chain's last seq and hash and when the ledger was re-chained in the
    commitment format, or None when it always had this format."""
    row = tx.execute(
        sa.select(ledger_head.c.origin_seq, ledger_head.c.origin_hash, ledger_head.c.origin_at)
    ).first()
    if row is None or row.origin_hash is None:
        return None
    return int(row.origin_seq), str(row.origin_hash), row.origin_at


def read_head(tx: Tx, *, for_update: bool = False) -> tuple[int, str]:
    """The seq and hash of the last entry; with `for_update`, locked until commit."""
    query = sa.select(ledger_head.c.seq, ledger_head.c.hash).where(ledger_head.c.id == 1)
    if for_update and tx.dialect.name == "postgresql":
        query = query.with_for_update()
    row = tx.execute(query).one()
    return int(row.seq), str(row.hash)


def move_head(tx: Tx, seq: int, digest: str) -> None:
    """The head now names entry `seq` and its hash."""
    tx.execute(ledger_head.update().where(ledger_head.c.id == 1).values(seq=seq, hash=digest))


# At or above this many contacts or entries, PostgreSQL reads flags without row locks (the
# head lock already keeps every writer out), writes entries through COPY and flags in one
# UPDATE joined to arrays.
BULK_THRESHOLD = 500


def _bulk(tx: Tx, count: int) -> bool:
    return tx.dialect.name == "postgresql" and count >= BULK_THRESHOLD


def flags_for_change(tx: Tx, ids: Sequence[int]) -> dict[int, tuple[int | None, int]]:
    """Contacts' (privacy_flags, refused_flags) by id, for a writer holding the head lock;
    a small batch on PostgreSQL locks the rows too. Missing ids are absent."""
    if _bulk(tx, len(ids)):
        return current_flags(tx, ids)
    return {cid: (c.privacy_flags, c.refused_flags) for cid, c in lock_contacts(tx, ids).items()}


def insert_entries(tx: Tx, entries: Sequence[LedgerEntry], evidence_json: Sequence[str]) -> None:
    """Store chained entries (`evidence_json[i]` is entry i's encoded evidence)."""
    if _bulk(tx, len(entries)):
        copy_entries(tx, entries, evidence_json)
    else:
        tx.execute(consent_ledger.insert(), [_row(e) for e in entries])
        tx.execute(
            ledger_personal.insert(),
            [
                {"seq": e.seq, "email": e.email, "evidence": e.evidence, "salt": e.salt}
                for e in entries
            ],
        )


def write_contact_flags(tx: Tx, changed: dict[int, tuple[int, int, datetime]]) -> None:
    """Contact id -> (privacy_flags, refused_flags, updated_at), written."""
    if _bulk(tx, len(changed)):
        write_flags(tx, changed)
        return
    tx.execute(
        contacts.update()
        .where(contacts.c.id == sa.bindparam("cid"))
        .values(
            privacy_flags=sa.bindparam("flags"),
            refused_flags=sa.bindparam("refused"),
            updated_at=sa.bindparam("now"),
        ),
        [{"cid": cid, "flags": f, "refused": r, "now": at} for cid, (f, r, at) in changed.items()],
    )


def insert_chained(
    tx: Tx, chained: Sequence[Chained], *, list_id: int, at: datetime, method: str, actor: str
) -> None:
    """Store a batch of chained entries sharing list, time, method and actor (no notice)."""
    if not chained:
        return
    if tx.dialect.name == "postgresql":
        copy_chained(tx, chained, list_id=list_id, at=at, method=method, actor=actor)
        return
    tx.execute(
        consent_ledger.insert(),
        [
            {
                "seq": e_seq,
                "contact_id": cid,
                "list_id": list_id,
                "at": at,
                "method": method,
                "granted": granted,
                "revoked": revoked,
                "flags_before": before,
                "flags_after": after,
                "actor": actor,
                "notice_id": None,
                "notice_sha256": None,
                "personal": personal,
                "prev_hash": prev,
                "hash": e_hash,
            }
            for (
                e_seq, cid, _, before, after, granted, revoked, _, prev, e_hash, personal, _,
            ) in chained
        ],
    )  # fmt: skip
    tx.execute(
        ledger_personal.insert(),
        [
            {"seq": c[0], "email": c[2], "evidence": json.loads(c[7]), "salt": c[11]}
            for c in chained
        ],
    )


def grant_targets(
    tx: Tx, list_id: int, *, bit: int, only_null: bool, batch: int
) -> Iterator[list[tuple[int, str, int | None]]]:
    """(id, email, flags) of the contacts a grant of `bit` changes (flags NULL or without the
    bit, and not refused by the contact; with `only_null`, flags NULL only), in id order,
    in batches.

    PostgreSQL streams them from one server-side cursor (one scan of the list); the caller
    may run other statements between batches.
    """
    if tx.dialect.name != "postgresql":
        for found in iter_flag_targets(
            tx, list_id, bit=bit, grant=True, only_null=only_null, batch=batch
        ):
            yield [(row.id, row.email, row.privacy_flags) for row in found]
        return
    with raw(tx).cursor(name="grant_targets") as cursor:
        cursor.itersize = batch
        cursor.execute(
            "SELECT id, email, privacy_flags FROM contacts WHERE list_id = %(list)s "
            "AND privacy_flags IS NULL ORDER BY id"
            if only_null
            else "SELECT id, email, privacy_flags FROM contacts WHERE list_id = %(list)s "
            "AND (privacy_flags IS NULL OR privacy_flags & %(bit)s = 0) "
            "AND refused_flags & %(bit)s = 0 ORDER BY id",
            {"list": list_id, "bit": bit},
        )
        while rows := cursor.fetchmany(batch):
            yield rows


def flags_from_entries(
    tx: Tx,
    *,
    after: int,
    upto: int,
    at: datetime,
    cooling: Sequence[int] = (),
    cooldown_until: datetime | None = None,
) -> None:
    """Set each contact's flags to `flags_after` of its entry with seq in (after, upto]; one
    entry per contact in that range. The contacts in `cooling` get `consent_cooldown_until`
    in the same statement on PostgreSQL (a million-row import then rewrites each row once,
    not twice)."""
    if tx.dialect.name == "postgresql":
        cooldown = (
            "consent_cooldown_until = CASE WHEN contacts.id = ANY(%(cooling)s::integer[]) "
            "THEN %(until)s ELSE contacts.consent_cooldown_until END, "
            if cooling and cooldown_until is not None
            else ""
        )
        with raw(tx).cursor() as cursor:
            cursor.execute(
                "UPDATE contacts SET privacy_flags = l.flags_after, "  # noqa: S608
                f"{cooldown}updated_at = %(at)s FROM consent_ledger AS l "
                "WHERE l.seq > %(after)s AND l.seq <= %(upto)s AND contacts.id = l.contact_id",
                {
                    "at": at,
                    "after": after,
                    "upto": upto,
                    "until": cooldown_until,
                    "cooling": int_array(cooling),
                },
            )
        return
    in_range = sa.and_(consent_ledger.c.seq > after, consent_ledger.c.seq <= upto)
    flags_after = (
        sa.select(consent_ledger.c.flags_after)
        .where(in_range, consent_ledger.c.contact_id == contacts.c.id)
        .scalar_subquery()
    )
    tx.execute(
        contacts.update()
        .where(contacts.c.id.in_(sa.select(consent_ledger.c.contact_id).where(in_range)))
        .values(privacy_flags=flags_after, updated_at=at)
    )
    if cooling and cooldown_until is not None:
        set_cooldown(tx, cooling, cooldown_until)


def _row(entry: LedgerEntry) -> dict[str, Any]:
    """The consent_ledger columns of an entry (the opening goes to ledger_personal)."""
    return {name: getattr(entry, name) for name in COLUMNS}


def iter_entries(
    tx: Tx, *, batch: int = 10000, after: int = 0, upto: int | None = None
) -> Iterator[LedgerEntry]:
    """Every entry in stored seq order (those with `after` < seq <= `upto`), in batches."""
    last = after
    while True:
        query = entry_select().where(consent_ledger.c.seq > last)
        if upto is not None:
            query = query.where(consent_ledger.c.seq <= upto)
        rows = tx.execute(query.order_by(consent_ledger.c.seq).limit(batch)).all()
        if not rows:
            return
        yield from (_entry(row) for row in rows)
        last = rows[-1].seq


def hash_at(tx: Tx, seq: int) -> str | None:
    """The stored hash of entry `seq` (None when there is no such entry)."""
    value = tx.execute(
        sa.select(consent_ledger.c.hash).where(consent_ledger.c.seq == seq)
    ).scalar_one_or_none()
    return None if value is None else str(value)


def last_seq(tx: Tx) -> int:
    """The seq of the last stored entry (0 when the ledger is empty), whatever the head says."""
    return int(
        tx.execute(sa.select(sa.func.coalesce(sa.func.max(consent_ledger.c.seq), 0))).scalar_one()
    )


def entries_for_contact(tx: Tx, contact_id: int) -> list[LedgerEntry]:
    """One contact's entries, oldest first."""
    rows = tx.execute(
        entry_select()
        .where(consent_ledger.c.contact_id == contact_id)
        .order_by(consent_ledger.c.seq)
    )
    return [_entry(row) for row in rows]


def iter_changes_by_contact(tx: Tx) -> Generator[tuple[int, str, int, int], None, None]:
    """(contact id, method, granted, revoked) of every entry, by contact then seq, streamed
    from one server-side cursor (what `flags check` folds, merged with the contacts in id
    order)."""
    ledger = consent_ledger.c
    result = tx.execution_options(stream_results=True, yield_per=20000).execute(
        sa.select(ledger.contact_id, ledger.method, ledger.granted, ledger.revoked).order_by(
            ledger.contact_id, ledger.seq
        )
    )
    try:
        for row in result:
            yield int(row.contact_id), str(row.method), int(row.granted), int(row.revoked)
    finally:
        result.close()
