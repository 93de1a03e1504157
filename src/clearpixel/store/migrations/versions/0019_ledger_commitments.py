"""ledger: personal fields committed to, not hashed in clear; the ledger re-chained.

Each entry's address and evidence move to `ledger_personal` with a fresh random salt, the
entry keeps `personal` = SHA-256(salt + those fields) and its hash covers that commitment
instead of the fields, so erasing a person (deleting their `ledger_personal` rows) leaves a
chain that still verifies. Every existing entry is re-chained in the new format, in seq
order, keeping its seq and every other field; the first new entry's prev_hash is the hash of
the former chain's head, which `ledger_head` records (origin_seq, origin_hash, origin_at) so
`ledger verify` can say where the chain comes from. Signed checkpoints written before this
migration name hashes of the former chain: the one at the former head is checked against
origin_hash, the others are reported as belonging to the former chain.

The append-only triggers are set aside for the rewrite, inside this migration's transaction.
There is no way back: a downgrade would put personal data into the hash chain again.

Revision ID: 0019
Revises: 0018
"""

import hashlib
import json
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from clearpixel.domain.ledger_chain import GENESIS_HASH, commitment, encode_evidence, entry_hash

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")

NO_UPDATE_SQLITE = """CREATE TRIGGER consent_ledger_no_update BEFORE UPDATE ON consent_ledger
       BEGIN SELECT RAISE(ABORT, 'consent_ledger is append-only: UPDATE refused'); END"""

_COLUMNS = (
    "seq, contact_id, list_id, email, at, method, granted, revoked, flags_before, flags_after, "
    "actor, notice_id, notice_sha256, evidence"
)


def _at(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def former_hash(fields: dict[str, object]) -> str:
    """An entry's hash in the former format: SHA-256 of every field but the hash, the
    address and evidence included, as JSON with sorted keys and no spaces."""
    at = _at(fields["at"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = json.dumps(
        {**fields, "at": at}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode()).hexdigest()


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.create_table(
        "ledger_personal",
        sa.Column("seq", BigId, autoincrement=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("evidence", Json, nullable=False),
        sa.Column("salt", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_ledger_personal"),
    )
    op.add_column("ledger_head", sa.Column("origin_seq", BigId, nullable=True))
    op.add_column("ledger_head", sa.Column("origin_hash", sa.String(64), nullable=True))
    op.add_column("ledger_head", sa.Column("origin_at", Timestamp, nullable=True))
    if postgres:
        op.execute("ALTER TABLE consent_ledger DISABLE TRIGGER consent_ledger_no_change")
        op.add_column("consent_ledger", sa.Column("personal", sa.String(64), nullable=True))
    else:
        op.execute("DROP TRIGGER consent_ledger_no_update")
        op.execute("ALTER TABLE consent_ledger ADD COLUMN personal VARCHAR(64) NOT NULL DEFAULT ''")

    head = bind.execute(sa.text("SELECT seq, hash FROM ledger_head WHERE id = 1")).one()
    rows = bind.execute(
        sa.text(f"SELECT {_COLUMNS}, hash FROM consent_ledger ORDER BY seq")  # noqa: S608
    ).all()
    prev = head.hash if rows else GENESIS_HASH
    former = GENESIS_HASH
    updates: list[dict[str, object]] = []
    openings: list[dict[str, object]] = []
    for row in rows:
        evidence = row.evidence if isinstance(row.evidence, dict) else json.loads(row.evidence)
        stored = row._asdict()
        stored.pop("hash")
        stored["evidence"] = evidence
        former = former_hash({**stored, "prev_hash": former})
        if former != row.hash:
            raise RuntimeError(
                f"ledger entry {row.seq} does not match its hash: the former chain is not "
                "sound, so it is not re-chained (run `clearpixel ledger verify` on the "
                "previous version, and restore the ledger from a backup)"
            )
        salt = secrets.token_hex(16)
        personal = commitment(salt, row.email, encode_evidence(evidence))
        fields = {
            "seq": row.seq,
            "contact_id": row.contact_id,
            "list_id": row.list_id,
            "at": _at(row.at),
            "method": row.method,
            "granted": row.granted,
            "revoked": row.revoked,
            "flags_before": row.flags_before,
            "flags_after": row.flags_after,
            "actor": row.actor,
            "notice_id": row.notice_id,
            "notice_sha256": row.notice_sha256,
            "personal": personal,
            "prev_hash": prev,
        }
        digest = entry_hash(fields)
        updates.append({"s": row.seq, "p": personal, "prev": prev, "h": digest})
        openings.append(
            {"seq": row.seq, "email": row.email, "evidence": json.dumps(evidence), "salt": salt}
        )
        prev = digest
    if updates:
        bind.execute(
            sa.text("UPDATE consent_ledger SET personal = :p, prev_hash = :prev, hash = :h "
                    "WHERE seq = :s"),
            updates,
        )  # fmt: skip
        evidence_value = "CAST(:evidence AS JSONB)" if postgres else ":evidence"
        bind.execute(
            sa.text(
                "INSERT INTO ledger_personal (seq, email, evidence, salt) "  # noqa: S608
                f"VALUES (:seq, :email, {evidence_value}, :salt)"
            ),
            openings,
        )
        bind.execute(
            sa.text(
                "UPDATE ledger_head SET hash = :h, origin_seq = :os, origin_hash = :oh, "
                "origin_at = :at WHERE id = 1"
            ),
            {"h": prev, "os": head.seq, "oh": head.hash, "at": datetime.now(UTC)},
        )
    if postgres:
        op.execute("ALTER TABLE consent_ledger ALTER COLUMN personal SET NOT NULL")
        op.execute("ALTER TABLE consent_ledger DROP COLUMN email")
        op.execute("ALTER TABLE consent_ledger DROP COLUMN evidence")
        op.execute("ALTER TABLE consent_ledger ENABLE TRIGGER consent_ledger_no_change")
    else:
        op.execute("ALTER TABLE consent_ledger DROP COLUMN email")
        op.execute("ALTER TABLE consent_ledger DROP COLUMN evidence")
        op.execute(NO_UPDATE_SQLITE)


def downgrade() -> None:
    raise RuntimeError(
        "the ledger cannot go back to hashing personal data in clear: restore a backup taken "
        "before migration 0019 instead"
    )
