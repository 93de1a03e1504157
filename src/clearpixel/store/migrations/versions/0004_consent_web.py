"""consent_web: the consent requests a contact viewed or answered (page views, outcomes).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "consent_responses",
        sa.Column("campaign_id", sa.Integer, autoincrement=False),
        sa.Column("contact_id", sa.Integer, autoincrement=False),
        sa.Column("viewed_at", Timestamp, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("decided_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("campaign_id", "contact_id", name="pk_consent_responses"),
    )
    op.create_index("ix_consent_responses_viewed_at", "consent_responses", ["viewed_at"])


def downgrade() -> None:
    op.drop_table("consent_responses")
