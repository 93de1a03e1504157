"""list_archive: an audience list can be archived (hidden from the pickers of new work,
kept with its contacts and ledger) and restored.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audience_lists") as batch:
        batch.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audience_lists") as batch:
        batch.drop_column("archived_at")
