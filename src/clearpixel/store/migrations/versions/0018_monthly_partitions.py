"""monthly_partitions: on PostgreSQL, personal_events becomes a table range-partitioned by
month of `at` (store/partitions.py), its rows copied into the months they fall in, so that
retention drops whole months. SQLite keeps one table.

Revision ID: 0018
Revises: 0017
"""

from datetime import UTC, datetime

from alembic import op

from clearpixel.store.partitions import create_month_sql, month_of, next_month

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

COLUMNS = "id, campaign_id, contact_id, event, link_id, at, verdict, reason, rule"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE personal_events RENAME TO personal_events_single")
    op.execute("ALTER INDEX pk_personal_events RENAME TO pk_personal_events_single")
    for index in ("campaign_id", "contact_id", "campaign_contact"):
        op.execute(f"DROP INDEX ix_personal_events_{index}")
    op.execute("ALTER SEQUENCE personal_events_id_seq OWNED BY NONE")
    op.execute(
        "CREATE TABLE personal_events ("
        "id BIGINT NOT NULL DEFAULT nextval('personal_events_id_seq'), "
        "campaign_id INTEGER NOT NULL, contact_id INTEGER, event VARCHAR(8) NOT NULL, "
        "link_id INTEGER, at TIMESTAMP WITH TIME ZONE NOT NULL, verdict VARCHAR(8) NOT NULL, "
        "reason VARCHAR(32), rule VARCHAR(64), "
        "CONSTRAINT pk_personal_events PRIMARY KEY (id, at)) PARTITION BY RANGE (at)"
    )
    op.execute("ALTER SEQUENCE personal_events_id_seq OWNED BY personal_events.id")
    op.execute("CREATE TABLE personal_events_default PARTITION OF personal_events DEFAULT")
    bind = op.get_bind()
    oldest = bind.exec_driver_sql("SELECT min(at) FROM personal_events_single").scalar()
    month = month_of(oldest) if oldest is not None else month_of(datetime.now(UTC))
    last = next_month(month_of(datetime.now(UTC)))
    while month <= last:
        op.execute(create_month_sql(month))
        month = next_month(month)
    op.execute(
        f"INSERT INTO personal_events ({COLUMNS}) "  # noqa: S608 - constant column names
        f"SELECT {COLUMNS} FROM personal_events_single"
    )
    op.execute("DROP TABLE personal_events_single")
    op.create_index("ix_personal_events_campaign_id", "personal_events", ["campaign_id"])
    op.create_index("ix_personal_events_contact_id", "personal_events", ["contact_id"])
    op.create_index(
        "ix_personal_events_campaign_contact", "personal_events", ["campaign_id", "contact_id"]
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE TABLE personal_events_months AS SELECT * FROM personal_events")
    op.execute("ALTER SEQUENCE personal_events_id_seq OWNED BY NONE")
    op.execute("DROP TABLE personal_events")
    op.execute("ALTER TABLE personal_events_months RENAME TO personal_events")
    op.execute(
        "ALTER TABLE personal_events ALTER COLUMN id SET DEFAULT nextval('personal_events_id_seq')"
    )
    op.execute("ALTER TABLE personal_events ADD CONSTRAINT pk_personal_events PRIMARY KEY (id)")
    op.execute("ALTER SEQUENCE personal_events_id_seq OWNED BY personal_events.id")
    op.create_index("ix_personal_events_campaign_id", "personal_events", ["campaign_id"])
    op.create_index("ix_personal_events_contact_id", "personal_events", ["contact_id"])
    op.create_index(
        "ix_personal_events_campaign_contact", "personal_events", ["campaign_id", "contact_id"]
    )
