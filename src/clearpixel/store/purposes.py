"""Named queries for the purposes table, kept in step with the installation's settings."""

from __future__ import annotations

import sqlalchemy as sa

from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.flags import Purposes
from clearpixel.store.db import Tx
from clearpixel.store.schema import purposes


def sync_purposes(tx: Tx, configured: Purposes) -> None:
    """Insert configured purposes that are new; refuse to rename or re-bit a stored one,
    since ledger entries already refer to its bit."""
    stored = {row.bit: row.name for row in tx.execute(sa.select(purposes))}
    for purpose in configured:
        name = stored.get(purpose.bit)
        if name is None:
            tx.execute(purposes.insert().values(bit=purpose.bit, name=purpose.name))
        elif name != purpose.name:
            raise ClearpixelError(
                f"bit {purpose.bit} is stored as purpose {name!r}; the settings call it "
                f"{purpose.name!r}. A purpose's bit cannot be reused once consent was recorded."
            )
