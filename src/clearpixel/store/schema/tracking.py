"""What ingest writes and reports read: personal events, hit counters, per-campaign totals,
drops, ingested batches and dead letters."""

from __future__ import annotations

import sqlalchemy as sa

from clearpixel.store.schema.base import Timestamp, metadata

# Personal events (opens and clicks attributed to a contact): never who made the request (no
# IP address, no user agent, R17). Withdrawal deletes them; the counters keep their counts.
personal_events = sa.Table(
    "personal_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("campaign_id", sa.Integer, nullable=False, index=True),
    sa.Column("contact_id", sa.Integer, nullable=True, index=True),
    sa.Column("event", sa.String(8), nullable=False),
    sa.Column("link_id", sa.Integer, nullable=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("verdict", sa.String(8), nullable=False),
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("rule", sa.String(64), nullable=True),
)

# Hits per campaign × hour × mode × kind × event × verdict, bumped at ingest; reports read these.
hit_counters = sa.Table(
    "hit_counters",
    metadata,
    sa.Column("campaign_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hour", Timestamp, primary_key=True),
    sa.Column("mode", sa.String(16), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("event", sa.String(8), primary_key=True),
    sa.Column("verdict", sa.String(8), primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
)

# Unique openers/clickers, implicit openers and per-link clicks, kept so reports never scan
# events. `link_id` is 0 for campaign-wide metrics.
campaign_totals = sa.Table(
    "campaign_totals",
    metadata,
    sa.Column("campaign_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("metric", sa.String(32), primary_key=True),
    sa.Column("link_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("n", sa.BigInteger, nullable=False),
)

# Hits that produced no personal event, by typed reason (campaign 0 when none is known).
hit_drops = sa.Table(
    "hit_drops",
    metadata,
    sa.Column("campaign_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hour", Timestamp, primary_key=True),
    sa.Column("reason", sa.String(32), primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
)

# Ids of ingested batches: a batch replayed from the spill file is applied exactly once.
ingested_batches = sa.Table(
    "ingested_batches",
    metadata,
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("at", Timestamp, nullable=False, index=True),
)

# Batches from the JetStream hit stream that failed CLEARPIXEL_NATS_MAX_DELIVER times (or could
# not be read): kept, with why, until replayed by id (`clearpixel ingest dead-letters`).
dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("deliveries", sa.Integer, nullable=False),
    sa.Column("at", Timestamp, nullable=False),
)

# Ingest reads a batch's earlier events by (campaign, contact).
sa.Index(
    "ix_personal_events_campaign_contact",
    personal_events.c.campaign_id,
    personal_events.c.contact_id,
)
