"""The only package that talks SQL: schema, engine, migrations and one module of named queries
per resource. Services receive a `Database` and open transactions with `db.begin()`."""

from clearpixel.store.db import Database, Tx

__all__ = ["Database", "Tx"]
