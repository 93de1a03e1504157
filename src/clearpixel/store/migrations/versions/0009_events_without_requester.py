"""events_without_requester: personal events keep no IP address or user agent.

Hits are classified at the edge and carry neither past it (R17, R20), so the columns that held
them for consenting contacts go, with what they held.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE personal_events SET ip = NULL, user_agent = NULL")
    op.drop_column("personal_events", "ip")
    op.drop_column("personal_events", "user_agent")


def downgrade() -> None:
    op.add_column("personal_events", sa.Column("ip", sa.String(64), nullable=True))
    op.add_column("personal_events", sa.Column("user_agent", sa.String(512), nullable=True))
