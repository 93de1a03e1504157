"""The consent ledger: hash-chained entries (append-only, R11), the openings of their
commitments (which erasure deletes), and the head writers lock."""

from __future__ import annotations

import sqlalchemy as sa

from clearpixel.store.schema.base import Json, Timestamp, metadata

consent_ledger = sa.Table(
    "consent_ledger",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("contact_id", sa.Integer, nullable=False, index=True),
    sa.Column("list_id", sa.Integer, nullable=False),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("granted", sa.Integer, nullable=False),
    sa.Column("revoked", sa.Integer, nullable=False),
    sa.Column("flags_before", sa.Integer, nullable=True),
    sa.Column("flags_after", sa.Integer, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("notice_id", sa.Integer, nullable=True),
    sa.Column("notice_sha256", sa.String(64), nullable=True),
    # SHA-256 of salt + the personal fields (ledger_personal): what the chain hashes
    sa.Column("personal", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# The opening of each entry's commitment: its personal fields and salt. Not append-only:
# erasing a person deletes their rows here, and the chain, which hashes only the commitment,
# still verifies.
ledger_personal = sa.Table(
    "ledger_personal",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("evidence", Json, nullable=False),
    sa.Column("salt", sa.String(32), nullable=False),
)

# One row: the last seq and hash. Writers lock it, so concurrent decisions chain in turn, and
# `ledger verify` compares the chain's end with it to detect a removed tail.
ledger_head = sa.Table(
    "ledger_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # When the ledger was re-chained in the commitment format (migration 0019): the former
    # chain's last seq and hash (entry 1's prev_hash), and when
    sa.Column("origin_seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=True),
    sa.Column("origin_hash", sa.String(64), nullable=True),
    sa.Column("origin_at", Timestamp, nullable=True),
)
