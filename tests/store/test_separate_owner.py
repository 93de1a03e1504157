"""On PostgreSQL, `clearpixel init --db-owner OWNER --app-role APP` hands the tables to a
role the application is not: connected as the application, the ledger can be appended to
(the product works) but its triggers cannot be dropped or disabled, the table not altered,
entries not updated or deleted, and replication mode (which skips triggers) not entered."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from clearpixel.consent import record_decision
from clearpixel.context import open_context
from clearpixel.domain.ledger import Method
from tests.conftest import FIXED_NOW
from tests.helpers import make_contacts, make_list

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def roles(ctx):
    suffix = uuid.uuid4().hex[:10]
    owner, app = f"cp_owner_{suffix}", f"cp_app_{suffix}"
    admin = sa.create_engine(ctx.settings.database_url.split("?")[0], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {owner} NOLOGIN")
        conn.exec_driver_sql(f"CREATE ROLE {app} LOGIN")
    try:
        yield owner, app
    finally:
        ctx.db.dispose()
        with admin.connect() as conn:  # the schema itself is dropped by its fixture
            conn.exec_driver_sql(f"REASSIGN OWNED BY {owner} TO CURRENT_USER")
            conn.exec_driver_sql(f"DROP OWNED BY {owner}, {app}")
            conn.exec_driver_sql(f"DROP ROLE {owner}")
            conn.exec_driver_sql(f"DROP ROLE {app}")
        admin.dispose()


def as_role(url: str, role: str) -> str:
    return url.replace("postgresql+psycopg://postgres@", f"postgresql+psycopg://{quote(role)}@")


REFUSED = [
    "DROP TRIGGER consent_ledger_no_change ON consent_ledger",
    "ALTER TABLE consent_ledger DISABLE TRIGGER ALL",
    "ALTER TABLE consent_ledger ADD COLUMN note text",
    "DROP TABLE consent_ledger",
    "UPDATE consent_ledger SET granted = 0",
    "DELETE FROM consent_ledger",
    "TRUNCATE consent_ledger",
    "SET session_replication_role = replica",
]


def test_the_application_role_cannot_touch_the_ledgers_guards(cli, ctx, roles):
    owner, app = roles
    ids = make_contacts(ctx, make_list(ctx), [None, None])
    result = cli("init", "--db-owner", owner, "--app-role", app)
    assert f"database owner: {owner}" in result.output

    settings = ctx.settings.model_copy(
        update={"database_url": as_role(ctx.settings.database_url, app)}
    )
    app_ctx = open_context(settings)  # migrations at head: nothing to do as the app
    app_ctx.now = lambda: FIXED_NOW
    try:
        record_decision(
            app_ctx.db, ids[0], granted=1, method=Method.API, now=FIXED_NOW, cooldown=ctx.cooldown
        )
        for statement in REFUSED:
            with pytest.raises(sa.exc.DBAPIError) as refused, app_ctx.db.begin() as tx:
                tx.exec_driver_sql(statement)
            assert "permission denied" in str(refused.value) or "must be owner" in str(
                refused.value
            ), statement
        with app_ctx.db.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM consent_ledger").scalar() == 1
    finally:
        app_ctx.db.dispose()
    assert "chain intact" in cli("ledger", "verify").output


def test_an_application_role_that_is_a_member_of_the_owner_is_refused(cli, ctx, roles):
    owner, app = roles
    with ctx.db.begin() as tx:
        tx.exec_driver_sql(f"GRANT {owner} TO {app}")
    result = cli("init", "--db-owner", owner, "--app-role", app, ok=False)
    assert result.exit_code == 2
    assert "member of" in result.output
