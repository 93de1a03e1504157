"""Named queries for the consent ledger: the one place `privacy_flags` are written.

`apply_decisions` locks the ledger head (so concurrent writers chain in turn), reads the
contacts' current flags, appends one chained entry per change, writes the new flags and moves
the head, all inside the caller's transaction (DESIGN R10, R11).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from clearpixel.domain.ledger import Decision, LedgerEntry, chain
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


def apply_decisions(
    tx: Tx, decisions: Sequence[Decision], *, keep_unchanged: bool = False
) -> list[LedgerEntry]:
    """Append one ledger entry per decision that changes flags (or every decision when
    `keep_unchanged`), and write the contacts' new flags. Returns the entries written.

    Effects: consent_ledger rows, contacts.privacy_flags and updated_at, ledger_head.
    Raises UnknownContact when a decision names a contact that does not exist.
    """
    if not decisions:
        return []
    seq, prev_hash = read_head(tx, for_update=True)
    current = lock_contacts(tx, sorted({d.contact_id for d in decisions}))
    flags: dict[int, int | None] = {cid: c.privacy_flags for cid, c in current.items()}
    entries: list[LedgerEntry] = []
    for decision in decisions:
        if decision.contact_id not in flags:
            raise UnknownContact(f"no contact with id {decision.contact_id}")
        before = flags[decision.contact_id]
        entry = chain(decision, seq=seq + 1, flags_before=before, prev_hash=prev_hash)
        if entry.flags_after == before and not keep_unchanged:
            continue
        entries.append(entry)
        flags[decision.contact_id] = entry.flags_after
        seq, prev_hash = entry.seq, entry.hash
    if not entries:
        return []
    tx.execute(consent_ledger.insert(), [_row(e) for e in entries])
    changed = {e.contact_id: (e.flags_after, e.at) for e in entries}
    tx.execute(
        contacts.update()
        .where(contacts.c.id == sa.bindparam("cid"))
        .values(privacy_flags=sa.bindparam("flags"), updated_at=sa.bindparam("now")),
        [{"cid": cid, "flags": f, "now": at} for cid, (f, at) in changed.items()],
    )
    tx.execute(ledger_head.update().where(ledger_head.c.id == 1).values(seq=seq, hash=prev_hash))
    return entries


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
