"""own_refusals: the bits each contact refused or withdrew themselves (R19), kept beside
`privacy_flags` by the ledger writer; filled here from the ledger's entries so far.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The methods of a person's own choice when this migration was written.
OWN = (
    "signup_form",
    "consent_page",
    "preference_page",
    "one_click_withdrawal",
    "admin",
    "api_contact",
)


def upgrade() -> None:
    op.add_column(
        "contacts",
        sa.Column("refused_flags", sa.Integer, nullable=False, server_default="0"),
    )
    bind = op.get_bind()
    refused: dict[int, int] = {}
    rows = bind.execute(
        sa.text(
            "SELECT contact_id, granted, revoked FROM consent_ledger "
            "WHERE method IN :own ORDER BY seq"
        ).bindparams(sa.bindparam("own", expanding=True)),
        {"own": list(OWN)},
    )
    for contact_id, granted, revoked in rows:
        refused[contact_id] = (refused.get(contact_id, 0) & ~granted) | revoked
    changed = [{"cid": cid, "bits": bits} for cid, bits in refused.items() if bits]
    if changed:
        bind.execute(sa.text("UPDATE contacts SET refused_flags = :bits WHERE id = :cid"), changed)


def downgrade() -> None:
    op.drop_column("contacts", "refused_flags")
