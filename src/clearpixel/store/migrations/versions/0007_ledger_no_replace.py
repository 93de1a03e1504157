"""ledger: refuse INSERT OR REPLACE on SQLite.

SQLite's REPLACE conflict resolution deletes the row in the way without firing DELETE
triggers (unless recursive_triggers is on), so `INSERT OR REPLACE INTO consent_ledger` used
to rewrite an entry with the append-only triggers in place. A BEFORE INSERT trigger fires
before the conflict is resolved and refuses an insert whose seq already exists. (PostgreSQL
has no REPLACE; its upsert is an UPDATE, which the existing trigger refuses.)

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NO_REPLACE_SQLITE = """
CREATE TRIGGER consent_ledger_no_replace BEFORE INSERT ON consent_ledger
WHEN EXISTS (SELECT 1 FROM consent_ledger WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'consent_ledger is append-only: REPLACE refused'); END
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(NO_REPLACE_SQLITE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS consent_ledger_no_replace")
