import pytest
import sqlalchemy as sa

from clearpixel.consent import record_decision
from clearpixel.domain.ledger import Method
from clearpixel.store.schema import consent_ledger
from tests.helpers import make_contacts, make_list


@pytest.fixture
def ledger(ctx):
    ids = make_contacts(ctx, make_list(ctx), [None, None, None])
    for cid in ids:
        record_decision(
            ctx.db, cid, granted=1, method=Method.API, now=ctx.now(), cooldown=ctx.cooldown
        )
    return ctx


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consent_ledger SET granted = 0 WHERE seq = 1",
        "DELETE FROM consent_ledger WHERE seq = 2",
        "UPDATE consent_ledger SET seq = seq + 100",
    ],
)
def test_the_store_refuses_update_and_delete_on_the_ledger(ledger, statement):
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), ledger.db.begin() as tx:
        tx.exec_driver_sql(statement)
    with ledger.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(consent_ledger)).scalar() == 3


def test_insert_or_replace_cannot_rewrite_an_entry(ledger):
    """SQLite's REPLACE deletes the row in the way without firing DELETE triggers; a BEFORE
    INSERT trigger refuses it. (PostgreSQL has no REPLACE.) The rewrite is also tried with
    recursive triggers on and off."""
    if ledger.db.is_postgres:
        pytest.skip("REPLACE is SQLite's")
    columns = ", ".join(c.name for c in consent_ledger.columns)
    for recursive in ("OFF", "ON"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), ledger.db.begin() as tx:
            tx.exec_driver_sql(f"PRAGMA recursive_triggers = {recursive}")
            tx.exec_driver_sql(
                f"INSERT OR REPLACE INTO consent_ledger ({columns}) "
                f"SELECT {columns.replace('granted', '0')} FROM consent_ledger WHERE seq = 1"
            )
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), ledger.db.begin() as tx:
        tx.exec_driver_sql(
            f"REPLACE INTO consent_ledger ({columns}) SELECT {columns} FROM consent_ledger "
            "WHERE seq = 2"
        )
    with ledger.db.connect() as conn:
        rows = conn.execute(sa.select(consent_ledger).order_by(consent_ledger.c.seq)).all()
    assert [r.granted for r in rows] == [1, 1, 1]


def test_an_upsert_cannot_rewrite_an_entry(ledger):
    columns = ", ".join(c.name for c in consent_ledger.columns)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), ledger.db.begin() as tx:
        tx.exec_driver_sql(
            f"INSERT INTO consent_ledger ({columns}) SELECT {columns} FROM consent_ledger "
            "WHERE seq = 1 ON CONFLICT (seq) DO UPDATE SET granted = 0"
        )
    with ledger.db.connect() as conn:
        assert conn.execute(sa.select(consent_ledger.c.granted)).scalars().all() == [1, 1, 1]
