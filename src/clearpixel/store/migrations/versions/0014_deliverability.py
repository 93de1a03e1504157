"""deliverability: the suppression list and its log, bounce and complaint events, outgoing
webhook endpoints, their delivery outbox and attempt log.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("address", sa.String(320)),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("since", Timestamp, nullable=False),
        sa.Column("evidence", Json, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("address", name="pk_suppressions"),
    )
    op.create_table(
        "suppression_log",
        sa.Column("id", BigId),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_suppression_log"),
    )
    op.create_index("ix_suppression_log_address", "suppression_log", ["address"])
    op.create_table(
        "bounce_events",
        sa.Column("id", BigId),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("diagnostic", sa.Text, nullable=False),
        sa.Column("campaign_id", sa.Integer, nullable=True),
        sa.Column("contact_id", sa.Integer, nullable=True),
        sa.Column("evidence", Json, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bounce_events"),
    )
    op.create_index("ix_bounce_events_email_kind_at", "bounce_events", ["email", "kind", "at"])
    op.create_index("ix_bounce_events_campaign_kind", "bounce_events", ["campaign_id", "kind"])
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("events", Json, nullable=False),
        sa.Column("ledger_seq", BigId, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("removed_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BigId),
        sa.Column("endpoint_id", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", Timestamp, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("delivered_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name="fk_webhook_deliveries_endpoint_id_webhook_endpoints",
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_status_next", "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index("ix_webhook_deliveries_endpoint", "webhook_deliveries", ["endpoint_id", "id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", BigId),
        sa.Column("delivery_id", sa.BigInteger, nullable=False),
        sa.Column("endpoint_id", sa.Integer, nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])
    op.create_index("ix_webhook_attempts_endpoint_id", "webhook_attempts", ["endpoint_id"])


def downgrade() -> None:
    for table in (
        "webhook_attempts",
        "webhook_deliveries",
        "webhook_endpoints",
        "bounce_events",
        "suppression_log",
        "suppressions",
    ):
        op.drop_table(table)
