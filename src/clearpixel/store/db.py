"""Engine set-up for SQLite (embedded default, WAL) and PostgreSQL, transactions, migrations.

SQLite runs with `secure_delete`, so the bytes of a deleted or rewritten row are overwritten
with zeros in the database file; a transaction that forgot personal data asks, through
`wipe_after_commit`, for a checkpoint once it commits, which copies the zeroed pages into the
database file and truncates the write-ahead log, where the old pages would otherwise stay
readable. (PostgreSQL keeps old row versions until vacuum reuses their space; what must not
outlive a withdrawal is therefore never stored there in the first place.)
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from clearpixel.domain.errors import ClearpixelError

Tx = Connection
MIGRATIONS = Path(__file__).parent / "migrations"
_READ_ONLY = "clearpixel_read_only"
_WIPE = "clearpixel_wipe_after_commit"
log = logging.getLogger("clearpixel.store")


def as_utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives it back without a zone)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def wipe_after_commit(tx: Tx) -> None:
    """Ask `Database.begin` to wipe freed pages once `tx` commits (see the module docstring)."""
    tx.info[_WIPE] = True


class StoreError(ClearpixelError, RuntimeError):
    """The database refused an operation or cannot be reached; the message says which."""


def _sqlite_engine(url: str) -> sa.Engine:
    """SQLite in WAL mode. A database file is opened read-write, never created by a
    connection (it is created once, here, when missing): a file moved away makes new
    connections fail, so hits spill, instead of creating an empty database in its place. A
    pooled connection whose file is no longer the one at the path (moved away, replaced) is
    dropped when checked out, so once the file is back every connection uses it again."""
    path = url.removeprefix("sqlite:///")
    if not path or path == ":memory:":
        return _configure_sqlite(
            sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}),
            path=None,
        )
    if not Path(path).exists():
        sqlite3.connect(path).close()

    def open_existing() -> sqlite3.Connection:
        uri = f"file:{quote(path)}?mode=rw"
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)

    # the pool a file database gets (the URL alone would look like an in-memory database,
    # whose per-thread pool closes connections other threads still use)
    engine = sa.create_engine("sqlite://", creator=open_existing, poolclass=sa.pool.QueuePool)
    return _configure_sqlite(engine, path=path)


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _configure_sqlite(engine: sa.Engine, *, path: str | None) -> sa.Engine:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        if path is not None:
            record.info["file"] = _file_identity(path)
        # Let SQLAlchemy emit BEGIN itself, so a writer can take the lock up front.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    if path is not None:

        @sa.event.listens_for(engine, "checkout")
        def _on_checkout(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
            if record.info.get("file") != _file_identity(path):
                raise sa.exc.DisconnectionError(f"{path} is no longer the file this opened")

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers (`begin()`) take the write lock up front with BEGIN IMMEDIATE, so they queue
        # for it instead of failing on upgrade; readers (`connect()`) BEGIN DEFERRED and, in
        # WAL mode, never wait for a writer nor make one wait.
        reading = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine


class Database:
    """A database handle: `begin()` gives one transaction, committed on clean exit."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        if url.startswith("sqlite"):
            if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self.engine = _sqlite_engine(url)
        else:
            self.engine = sa.create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10)
        self.dialect = self.engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def begin(self) -> Iterator[Tx]:
        """One transaction: committed when the block ends, rolled back if it raises. If the
        transaction asked for it (`wipe_after_commit`), freed pages are wiped after the commit."""
        wipe = False
        with self.engine.begin() as conn:
            try:
                yield conn
            finally:
                wipe = bool(conn.info.pop(_WIPE, False))
        if wipe:
            self.wipe_freed_pages()

    def wipe_freed_pages(self) -> None:
        """SQLite: checkpoint the write-ahead log into the database file and truncate it, so the
        pages a deletion replaced are gone from both (their free space was zeroed by
        `secure_delete`). Waits for readers two seconds at most; if one still holds an old
        snapshot, the log is kept and a later checkpoint removes it (`serve` runs one every
        few minutes). A no-op on PostgreSQL."""
        if self.dialect != "sqlite":
            return
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA busy_timeout=2000")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = (cursor.fetchone() or (0,))[0]
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
        finally:
            raw.close()
        if busy:
            log.warning("write-ahead log still read by a connection: wiped at a later checkpoint")

    @contextmanager
    def connect(self) -> Iterator[Tx]:
        """A read connection (its implicit transaction is rolled back at the end). On SQLite
        it reads a snapshot without taking the write lock: never write through it."""
        with self.engine.connect() as conn:
            yield conn.execution_options(**{_READ_ONLY: True})

    def migrate(self) -> None:
        """Bring the schema to the newest migration (creates it on first run)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()
