"""Named queries a proof of consent needs beyond one contact's entries: the neighbouring links
of the chain, so a third party can check each entry is where the chain says it is."""

from __future__ import annotations

import sqlalchemy as sa

from clearpixel.store.db import Tx
from clearpixel.store.schema import consent_ledger, ledger_head


def neighbour_hashes(tx: Tx, seqs: list[int]) -> dict[int, tuple[str | None, str | None]]:
    """For each seq: (hash of the entry before it, prev_hash of the entry after it).
    None where there is no such entry (start or end of the chain)."""
    if not seqs:
        return {}
    wanted = sorted({s - 1 for s in seqs} | {s + 1 for s in seqs})
    found: dict[int, tuple[str, str]] = {}
    for start in range(0, len(wanted), 1000):
        rows = tx.execute(
            sa.select(
                consent_ledger.c.seq, consent_ledger.c.hash, consent_ledger.c.prev_hash
            ).where(consent_ledger.c.seq.in_(wanted[start : start + 1000]))
        )
        found.update((int(r.seq), (str(r.hash), str(r.prev_hash))) for r in rows)
    result: dict[int, tuple[str | None, str | None]] = {}
    for seq in seqs:
        before = found.get(seq - 1)
        after = found.get(seq + 1)
        result[seq] = (before[0] if before else None, after[1] if after else None)
    return result


def head(tx: Tx) -> tuple[int, str]:
    row = tx.execute(sa.select(ledger_head.c.seq, ledger_head.c.hash)).one()
    return int(row.seq), str(row.hash)
