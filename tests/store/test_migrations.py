"""The migrations create exactly the tables of `store.schema` (no drift between the two)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from clearpixel.store.partitions import is_partition
from clearpixel.store.schema import metadata


def not_a_partition(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    """Month partitions (PostgreSQL) are made by the application, not the schema."""
    table = obj.table.name if type_ == "index" else name
    return not (reflected and is_partition(table))


def test_migrations_match_the_schema(ctx):
    with ctx.db.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": not_a_partition})
        diff = compare_metadata(context, metadata)
    assert diff == []
