"""sending: campaigns, their registered links, one send row per recipient.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("list_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("from_addr", sa.String(320), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="draft"),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        sa.UniqueConstraint("public_id", name="uq_campaigns_public_id"),
        sa.ForeignKeyConstraint(
            ["list_id"], ["audience_lists.id"], name="fk_campaigns_list_id_audience_lists"
        ),
    )
    op.create_table(
        "campaign_links",
        sa.Column("campaign_id", sa.Integer),
        sa.Column("link_id", sa.Integer, autoincrement=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "link_id", name="pk_campaign_links"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_campaign_links_campaign_id_campaigns"
        ),
    )
    op.create_table(
        "sends",
        sa.Column("id", BigId),
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("contact_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("purposes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("sent_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sends"),
        sa.UniqueConstraint("campaign_id", "contact_id", name="uq_sends_campaign_contact"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_sends_campaign_id_campaigns"
        ),
    )
    op.create_index("ix_sends_campaign_status", "sends", ["campaign_id", "status", "id"])


def downgrade() -> None:
    for table in ("sends", "campaign_links", "campaigns"):
        op.drop_table(table)
