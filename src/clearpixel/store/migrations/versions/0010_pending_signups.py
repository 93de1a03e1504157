"""pending_signups: signups waiting for their owner's confirmation (double opt-in).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "pending_signups",
        sa.Column("id", sa.Integer),
        sa.Column("list_id", sa.Integer, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("ticked", sa.Integer, nullable=False),
        sa.Column("notice_ids", Json, nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("evidence", Json, nullable=False),
        sa.Column("network", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("confirmed_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pending_signups"),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["audience_lists.id"],
            name="fk_pending_signups_list_id_audience_lists",
        ),
        sqlite_autoincrement=True,
    )
    for column in ("email", "network", "created_at", "expires_at"):
        op.create_index(f"ix_pending_signups_{column}", "pending_signups", [column])


def downgrade() -> None:
    op.drop_table("pending_signups")
