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
