"""The consent ledger's entries read in pages for display (admin UI, REST API), with keyset
cursors (the last seq seen), so a page's cost does not grow with the page number."""

from __future__ import annotations

from clearpixel.domain.ledger import LedgerEntry
from clearpixel.store.db import Tx
from clearpixel.store.ledger import _entry as _to_entry
from clearpixel.store.ledger import entry_select
from clearpixel.store.schema import consent_ledger


def ledger_page(
    tx: Tx, *, after: int = 0, limit: int = 100, contact_id: int | None = None
) -> list[LedgerEntry]:
    """Ledger entries with seq > `after`, in seq order (optionally of one contact)."""
    query = entry_select().where(consent_ledger.c.seq > after)
    if contact_id is not None:
        query = query.where(consent_ledger.c.contact_id == contact_id)
    rows = tx.execute(query.order_by(consent_ledger.c.seq).limit(limit))
    return [_to_entry(row) for row in rows]
