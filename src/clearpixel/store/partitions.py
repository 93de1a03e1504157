"""Monthly range partitions of raw personal events on PostgreSQL (SQLite keeps one table).

Migration 0018 turns `personal_events` into a table partitioned by month of `at`, named
`personal_events_pYYYY_MM`, plus a default partition for a time no month covers. The
application creates the months it is about to write itself (`MonthlyPartitions`: this
month and the next when ingest starts, and any month a batch's hits fall in), each in a short
transaction of its own; no extension is needed. Retention drops a month whole once all of
it is past its window (`drop_months_before`), instead of deleting row by row.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

import sqlalchemy as sa

from clearpixel.store.db import Database, Tx

log = logging.getLogger("clearpixel.store")
TABLE = "personal_events"
MONTH = re.compile(rf"^{TABLE}_p(\d{{4}})_(\d{{2}})$")


def month_of(at: datetime) -> date:
    at = at.astimezone(UTC)
    return date(at.year, at.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{TABLE}_p{month.year:04d}_{month.month:02d}"


def create_month_sql(month: date) -> str:
    """The statement that creates one month's partition (if it does not exist)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(month)} PARTITION OF {TABLE} "
        f"FOR VALUES FROM ('{month.isoformat()} 00:00:00+00') "
        f"TO ('{next_month(month).isoformat()} 00:00:00+00')"
    )


def is_partitioned(tx: Tx) -> bool:
    """Whether this database's `personal_events` is partitioned (PostgreSQL after 0018)."""
    if tx.dialect.name != "postgresql":
        return False
    query = sa.text(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = :name AND c.relnamespace = to_regnamespace(current_schema())::oid"
    )
    return tx.execute(query, {"name": TABLE}).first() is not None


def months(tx: Tx) -> list[date]:
    """The month partitions that exist, oldest first."""
    query = sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :name "
        "AND p.relnamespace = to_regnamespace(current_schema())::oid"
    )
    found = []
    for (name,) in tx.execute(query, {"name": TABLE}):
        match = MONTH.match(name)
        if match:
            found.append(date(int(match[1]), int(match[2]), 1))
    return sorted(found)


def drop_months_before(tx: Tx, before: datetime) -> int:
    """Drop every month partition that lies wholly before `before`; returns the rows they
    held. Nothing on SQLite or an unpartitioned table."""
    if not is_partitioned(tx):
        return 0
    dropped = 0
    for month in months(tx):
        if datetime(*next_month(month).timetuple()[:3], tzinfo=UTC) > before:
            break
        name = partition_name(month)
        dropped += int(tx.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one())  # noqa: S608 - a name we built
        tx.execute(sa.text(f"DROP TABLE {name}"))
    return dropped


class MonthlyPartitions:
    """Creates, once per process, the month partitions ingest is about to write."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ready: set[date] = set()
        self._applies = db.is_postgres

    def ensure(self, times: Iterable[float], *, now: datetime) -> None:
        """Make sure the months of `times` (Unix times), this month and the next exist."""
        if not self._applies:
            return
        this = month_of(now)
        wanted = {this, next_month(this)}
        wanted.update(month_of(datetime.fromtimestamp(t, UTC)) for t in times)
        missing = wanted - self._ready
        if not missing:
            return
        with self.db.begin() as tx:
            if not is_partitioned(tx):
                self._applies = False
                return
        for month in sorted(missing):
            try:
                with self.db.begin() as tx:
                    tx.execute(sa.text(create_month_sql(month)))
            except Exception as exc:  # another process made it, or the default holds rows
                log.warning("partition %s not created: %s", partition_name(month), exc)
            self._ready.add(month)


def is_partition(table_name: str) -> bool:
    """Whether a table is one of the partitions (a month, or the default) of a partitioned
    table: schema comparison leaves them to the application."""
    return bool(MONTH.match(table_name)) or table_name == f"{TABLE}_default"
