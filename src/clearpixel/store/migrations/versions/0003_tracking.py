"""tracking: hit counters, per-campaign totals, drop counts, ingested batch ids, and the two
indexes the hit path and the campaign report read through.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hit_counters",
        sa.Column("campaign_id", sa.Integer, autoincrement=False),
        sa.Column("hour", Timestamp),
        sa.Column("mode", sa.String(16)),
        sa.Column("kind", sa.String(16)),
        sa.Column("event", sa.String(8)),
        sa.Column("verdict", sa.String(8)),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(
            "campaign_id", "hour", "mode", "kind", "event", "verdict", name="pk_hit_counters"
        ),
    )
    op.create_table(
        "campaign_totals",
        sa.Column("campaign_id", sa.Integer, autoincrement=False),
        sa.Column("metric", sa.String(32)),
        sa.Column("link_id", sa.Integer, autoincrement=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "metric", "link_id", name="pk_campaign_totals"),
    )
    op.create_table(
        "hit_drops",
        sa.Column("campaign_id", sa.Integer, autoincrement=False),
        sa.Column("hour", Timestamp),
        sa.Column("reason", sa.String(32)),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "hour", "reason", name="pk_hit_drops"),
    )
    op.create_table(
        "ingested_batches",
        sa.Column("batch_id", sa.String(64)),
        sa.Column("at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name="pk_ingested_batches"),
    )
    op.create_index("ix_ingested_batches_at", "ingested_batches", ["at"])
    op.create_index(
        "ix_personal_events_campaign_contact", "personal_events", ["campaign_id", "contact_id"]
    )
    op.create_index("ix_sends_campaign_kind_mode", "sends", ["campaign_id", "kind", "mode"])


def downgrade() -> None:
    op.drop_index("ix_sends_campaign_kind_mode", "sends")
    op.drop_index("ix_personal_events_campaign_contact", "personal_events")
    for table in ("ingested_batches", "hit_drops", "campaign_totals", "hit_counters"):
        op.drop_table(table)
