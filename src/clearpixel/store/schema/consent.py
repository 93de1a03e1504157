"""Consent requests a contact saw or answered, and signups waiting for their owner's
confirmation (double opt-in, R18)."""

from __future__ import annotations

import sqlalchemy as sa

from clearpixel.store.schema.base import Json, Timestamp, metadata

# Keyed by the (campaign, contact) pair a consent token names. `viewed_at` is the first GET of
# the consent page; `outcome` (accepted, refused, no_action, superseded) is claimed once, so a
# replayed token never records a second decision, and `expire_pending` finds pages left open.
consent_responses = sa.Table(
    "consent_responses",
    metadata,
    sa.Column("campaign_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("contact_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("viewed_at", Timestamp, nullable=True, index=True),
    sa.Column("outcome", sa.String(16), nullable=True),
    sa.Column("decided_at", Timestamp, nullable=True),
)

# What a signup form (or a signup-scoped API key) submitted: the ticked purposes, the notices
# shown and the evidence of that step. Nothing changes for the address until its owner confirms
# through the emailed link (`confirmed_at`). Rows are purged once `expires_at` has passed. The
# ids never repeat (AUTOINCREMENT on SQLite), so an old link can never name a newer row.
pending_signups = sa.Table(
    "pending_signups",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("list_id", sa.Integer, sa.ForeignKey("audience_lists.id"), nullable=False),
    sa.Column("email", sa.String(320), nullable=False, index=True),
    sa.Column("ticked", sa.Integer, nullable=False),
    sa.Column("notice_ids", Json, nullable=False),
    sa.Column("locale", sa.String(8), nullable=False),
    sa.Column("evidence", Json, nullable=False),
    sa.Column("network", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", Timestamp, nullable=False, index=True),
    sa.Column("expires_at", Timestamp, nullable=False, index=True),
    sa.Column("confirmed_at", Timestamp, nullable=True),
    sqlite_autoincrement=True,
)
