"""Audience lists, their contacts, the purposes and the notices shown for them."""

from __future__ import annotations

import sqlalchemy as sa

from clearpixel.store.schema.base import Json, Timestamp, metadata

audience_lists = sa.Table(
    "audience_lists",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
    # set while the list is archived: hidden from the pickers of new campaigns and imports
    sa.Column("archived_at", Timestamp, nullable=True),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("list_id", sa.Integer, sa.ForeignKey("audience_lists.id"), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("attributes", Json, nullable=False),
    sa.Column("privacy_flags", sa.Integer, nullable=True),
    # Bits the contact refused or withdrew themselves (R19), kept by the ledger writer beside
    # the flags, from the same entries: no bulk path may grant them again.
    sa.Column("refused_flags", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(16), nullable=False, server_default="subscribed"),
    sa.Column("last_open_date", sa.Date, nullable=True),
    sa.Column("last_click_date", sa.Date, nullable=True),
    sa.Column("consent_cooldown_until", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("list_id", "email", name="uq_contacts_list_email"),
)

purposes = sa.Table(
    "purposes",
    metadata,
    sa.Column("bit", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
)

notices = sa.Table(
    "notices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("locale", sa.String(8), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.UniqueConstraint("purpose", "locale", "version", name="uq_notices_version"),
)
