"""Dead letters: hit batches the JetStream ingest workers could not apply."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from clearpixel.store.db import Tx
from clearpixel.store.schema import dead_letters


@dataclass(frozen=True, slots=True)
class DeadLetter:
    batch_id: str
    payload: bytes
    error: str
    deliveries: int
    at: datetime


def record(
    tx: Tx, batch_id: str, payload: bytes, *, error: str, deliveries: int, now: datetime
) -> None:
    """Keep a batch that could not be applied (a batch id kept twice keeps the last error)."""
    tx.execute(dead_letters.delete().where(dead_letters.c.batch_id == batch_id))
    tx.execute(
        dead_letters.insert().values(
            batch_id=batch_id, payload=payload, error=error[:2000], deliveries=deliveries, at=now
        )
    )


def listed(tx: Tx) -> list[DeadLetter]:
    """Every dead letter, oldest first."""
    rows = tx.execute(sa.select(dead_letters).order_by(dead_letters.c.at, dead_letters.c.batch_id))
    return [DeadLetter(r.batch_id, bytes(r.payload), r.error, r.deliveries, r.at) for r in rows]


def get(tx: Tx, batch_id: str) -> DeadLetter | None:
    row = tx.execute(sa.select(dead_letters).where(dead_letters.c.batch_id == batch_id)).first()
    if row is None:
        return None
    return DeadLetter(row.batch_id, bytes(row.payload), row.error, row.deliveries, row.at)


def remove(tx: Tx, batch_id: str) -> None:
    tx.execute(dead_letters.delete().where(dead_letters.c.batch_id == batch_id))
