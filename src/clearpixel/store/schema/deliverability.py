"""The suppression list and its log, bounces and complaints, outgoing webhooks (endpoints,
deliveries, attempts)."""

from __future__ import annotations

import sqlalchemy as sa

from clearpixel.store.schema.base import Json, Timestamp, metadata

# One installation-wide list: an address here gets no mail of any kind from any list.
suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("address", sa.String(320), primary_key=True),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("since", Timestamp, nullable=False),
    sa.Column("evidence", Json, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
)

# Every addition and removal, with who did it and why (the list itself keeps only the present).
suppression_log = sa.Table(
    "suppression_log",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("address", sa.String(320), nullable=False, index=True),
    sa.Column("action", sa.String(8), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", Timestamp, nullable=False),
)

# Normalised bounce and complaint events, whatever their source (SMTP answer, DSN, ARF, webhook).
bounce_events = sa.Table(
    "bounce_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("diagnostic", sa.Text, nullable=False),
    sa.Column("campaign_id", sa.Integer, nullable=True),
    sa.Column("contact_id", sa.Integer, nullable=True),
    sa.Column("evidence", Json, nullable=False),
    sa.Index("ix_bounce_events_email_kind_at", "email", "kind", "at"),
    sa.Index("ix_bounce_events_campaign_kind", "campaign_id", "kind"),
)

# Registered receivers of outgoing events. `ledger_seq`: the last consent-ledger entry turned
# into events for this endpoint (the feed tails the append-only ledger from there).
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("events", Json, nullable=False),
    sa.Column("ledger_seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("removed_at", Timestamp, nullable=True),
)

# The outbox: one row per (event, endpoint), written in the transaction of the action that
# caused the event and delivered later by the worker, with retries.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("endpoint_id", sa.Integer, sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(40), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", Timestamp, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("delivered_at", Timestamp, nullable=True),
    sa.Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
)

# The delivery log: every attempt, its HTTP status or error.
webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("delivery_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("endpoint_id", sa.Integer, nullable=False, index=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
)
