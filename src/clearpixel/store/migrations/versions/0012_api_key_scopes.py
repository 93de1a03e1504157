"""api_key_scopes: an API key may be limited to one list and to starting signups only.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("scope", sa.String(16), nullable=False, server_default="full"))
        batch.add_column(sa.Column("list_id", sa.Integer, nullable=True))
        batch.create_foreign_key(
            "fk_api_keys_list_id_audience_lists", "audience_lists", ["list_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint("fk_api_keys_list_id_audience_lists", type_="foreignkey")
        batch.drop_column("list_id")
        batch.drop_column("scope")
