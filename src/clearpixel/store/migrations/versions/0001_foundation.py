"""Foundation: audience lists, contacts with privacy_flags, purposes, notices, the
append-only consent ledger and its head, personal events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")

APPEND_ONLY_PG = """
CREATE OR REPLACE FUNCTION consent_ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consent_ledger is append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER consent_ledger_no_change BEFORE UPDATE OR DELETE ON consent_ledger
    FOR EACH ROW EXECUTE FUNCTION consent_ledger_append_only();
CREATE TRIGGER consent_ledger_no_truncate BEFORE TRUNCATE ON consent_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION consent_ledger_append_only();
"""

APPEND_ONLY_SQLITE = [
    """CREATE TRIGGER consent_ledger_no_update BEFORE UPDATE ON consent_ledger
       BEGIN SELECT RAISE(ABORT, 'consent_ledger is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER consent_ledger_no_delete BEFORE DELETE ON consent_ledger
       BEGIN SELECT RAISE(ABORT, 'consent_ledger is append-only: DELETE refused'); END""",
]


def upgrade() -> None:
    op.create_table(
        "audience_lists",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audience_lists"),
        sa.UniqueConstraint("name", name="uq_audience_lists_name"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("list_id", sa.Integer, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("attributes", Json, nullable=False),
        sa.Column("privacy_flags", sa.Integer, nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="subscribed"),
        sa.Column("last_open_date", sa.Date, nullable=True),
        sa.Column("last_click_date", sa.Date, nullable=True),
        sa.Column("consent_cooldown_until", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.ForeignKeyConstraint(
            ["list_id"], ["audience_lists.id"], name="fk_contacts_list_id_audience_lists"
        ),
        sa.UniqueConstraint("list_id", "email", name="uq_contacts_list_email"),
    )
    op.create_table(
        "purposes",
        sa.Column("bit", sa.Integer, autoincrement=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("bit", name="pk_purposes"),
        sa.UniqueConstraint("name", name="uq_purposes_name"),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notices"),
        sa.UniqueConstraint("purpose", "locale", "version", name="uq_notices_version"),
    )
    op.create_table(
        "consent_ledger",
        sa.Column("seq", BigId, autoincrement=False),
        sa.Column("contact_id", sa.Integer, nullable=False),
        sa.Column("list_id", sa.Integer, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("granted", sa.Integer, nullable=False),
        sa.Column("revoked", sa.Integer, nullable=False),
        sa.Column("flags_before", sa.Integer, nullable=True),
        sa.Column("flags_after", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("notice_id", sa.Integer, nullable=True),
        sa.Column("notice_sha256", sa.String(64), nullable=True),
        sa.Column("evidence", Json, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_consent_ledger"),
    )
    op.create_index("ix_consent_ledger_contact_id", "consent_ledger", ["contact_id"])
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, autoincrement=False),
        sa.Column("seq", BigId, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_head"),
    )
    op.execute("INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')")
    op.create_table(
        "personal_events",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("contact_id", sa.Integer, nullable=True),
        sa.Column("event", sa.String(8), nullable=False),
        sa.Column("link_id", sa.Integer, nullable=True),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("rule", sa.String(64), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(512), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_personal_events"),
    )
    op.create_index("ix_personal_events_campaign_id", "personal_events", ["campaign_id"])
    op.create_index("ix_personal_events_contact_id", "personal_events", ["contact_id"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_PG)
    else:
        for statement in APPEND_ONLY_SQLITE:
            op.execute(statement)


def downgrade() -> None:
    for table in (
        "personal_events",
        "ledger_head",
        "consent_ledger",
        "notices",
        "purposes",
        "contacts",
        "audience_lists",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS consent_ledger_append_only()")
