"""send_lease: the process sending a campaign holds a lease it renews while it sends, so a
second sender of the same campaign is refused and a send whose process died is seen as
stalled (its lease ran out) and can be resumed.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("send_lease_holder", sa.String(80), nullable=True))
        batch.add_column(sa.Column("send_lease_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("send_lease_until")
        batch.drop_column("send_lease_holder")
