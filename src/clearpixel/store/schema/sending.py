"""Campaigns, their registered links, one send row per recipient."""

from __future__ import annotations

import sqlalchemy as sa

from clearpixel.store.schema.base import Timestamp, metadata

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("public_id", sa.String(32), nullable=False, unique=True),
    sa.Column("list_id", sa.Integer, sa.ForeignKey("audience_lists.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("subject", sa.String(998), nullable=False),
    sa.Column("html", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("from_addr", sa.String(320), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="draft"),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("status_detail", sa.Text, nullable=True),  # why it failed or was cancelled
    sa.Column("scheduled_at", Timestamp, nullable=True),  # UTC; `serve` starts it then
    sa.Column("archived_at", Timestamp, nullable=True),  # left out of the default list
    # the process sending it, and until when its lease runs (renewed while it sends)
    sa.Column("send_lease_holder", sa.String(80), nullable=True),
    sa.Column("send_lease_until", Timestamp, nullable=True),
    sa.Index("ix_campaigns_status_scheduled_at", "status", "scheduled_at"),
)

# Links found when the campaign is compiled, with stable ids: a click redirects only to these.
campaign_links = sa.Table(
    "campaign_links",
    metadata,
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), primary_key=True),
    sa.Column("link_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("url", sa.Text, nullable=False),
)

sends = sa.Table(
    "sends",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("contact_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("purposes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("message_id", sa.String(255), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("sent_at", Timestamp, nullable=True),
    sa.UniqueConstraint("campaign_id", "contact_id", name="uq_sends_campaign_contact"),
    # A resumed send reads the rows still pending, in id order, without walking the sent ones.
    sa.Index("ix_sends_campaign_status", "campaign_id", "status", "id"),
)

# The campaign report counts sends by kind and mode.
sa.Index("ix_sends_campaign_kind_mode", sends.c.campaign_id, sends.c.kind, sends.c.mode)
