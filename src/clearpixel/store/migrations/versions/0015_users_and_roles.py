"""users_and_roles: several admin users, each with a role (admin, editor, auditor) and a
possible disabling; API keys carry a role too. Sign-in names may be email addresses.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("admin_accounts") as batch:
        batch.alter_column("username", type_=sa.String(320), existing_nullable=False)
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="admin"))
        batch.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("login_failures") as batch:
        batch.alter_column("username", type_=sa.String(320), existing_nullable=False)
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="admin"))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("role")
    with op.batch_alter_table("login_failures") as batch:
        batch.alter_column("username", type_=sa.String(64), existing_nullable=False)
    with op.batch_alter_table("admin_accounts") as batch:
        batch.drop_column("disabled_at")
        batch.drop_column("role")
        batch.alter_column("username", type_=sa.String(64), existing_nullable=False)
