"""The migrations create exactly the tables of `store.schema` (no drift between the two)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from clearpixel.store.schema import metadata


def test_migrations_match_the_schema(ctx):
    with ctx.db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
