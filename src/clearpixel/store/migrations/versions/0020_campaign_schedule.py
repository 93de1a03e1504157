"""campaign_schedule: a campaign can be scheduled for a time (stored in UTC; `serve` claims
it when due) and a sent or cancelled one archived (left out of the default list, its report
and ledger kept).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_campaigns_status_scheduled_at", "campaigns", ["status", "scheduled_at"])


def downgrade() -> None:
    op.drop_index("ix_campaigns_status_scheduled_at", table_name="campaigns")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("archived_at")
        batch.drop_column("scheduled_at")
