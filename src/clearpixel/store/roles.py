"""PostgreSQL roles: a table owner distinct from the application's role, so the application
can append to the ledger but cannot drop its triggers, disable them or alter the table.

Whoever owns a table may drop its triggers; the application's role must therefore not own
`consent_ledger` nor be a member of the role that does. `separate_owner` hands every table,
sequence and function of the schema to the owner role and grants the application role only
what it needs: SELECT and INSERT on the ledger (no UPDATE, DELETE or TRUNCATE: the store
refuses them twice), and reading and writing on the other tables.
"""

from __future__ import annotations

from clearpixel.domain.errors import ClearpixelError
from clearpixel.store.db import Tx

LEDGER_TABLE = "consent_ledger"


class RoleError(ClearpixelError):
    """The roles cannot be set up as asked; the message says why."""


def separate_owner(tx: Tx, *, owner: str, app: str) -> list[str]:
    """Make `owner` the owner of every table, sequence and function of the current schema and
    grant `app` what the application needs. Returns the tables handed over.

    Must run as a role that may give the objects away (a superuser, or a member of `owner`
    that owns them). Effects: ownership and privileges only, no data changes."""
    if tx.dialect.name != "postgresql":
        raise RoleError("a separate table owner is a PostgreSQL feature")
    if owner == app:
        raise RoleError("the owner role must differ from the application's role")
    quote = tx.dialect.identifier_preparer.quote
    for role in (owner, app):
        if not tx.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).first():
            raise RoleError(f"there is no PostgreSQL role {role!r}: create it first")
    member = tx.exec_driver_sql("SELECT pg_has_role(%s, %s, 'MEMBER')", (app, owner)).scalar_one()
    if member:
        raise RoleError(
            f"role {app!r} is a member of {owner!r}: it could act as the owner and drop the "
            "ledger's triggers"
        )
    schema = str(tx.exec_driver_sql("SELECT current_schema()").scalar_one())
    tables = [
        str(name)
        for (name,) in tx.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (schema,)
        )
    ]
    functions = [
        str(sig)
        for (sig,) in tx.exec_driver_sql(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s",
            (schema,),
        )
    ]
    o, a, s = quote(owner), quote(app), quote(schema)
    for table in tables:
        tx.exec_driver_sql(f"ALTER TABLE {s}.{quote(table)} OWNER TO {o}")
    for function in functions:
        tx.exec_driver_sql(f"ALTER FUNCTION {function} OWNER TO {o}")
    tx.exec_driver_sql(f"GRANT USAGE ON SCHEMA {s} TO {a}")
    tx.exec_driver_sql(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {a}")
    for table in tables:
        rights = "SELECT, INSERT" if table == LEDGER_TABLE else "SELECT, INSERT, UPDATE, DELETE"
        tx.exec_driver_sql(f"GRANT {rights} ON {s}.{quote(table)} TO {a}")
    tx.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {a}")
    return tables
