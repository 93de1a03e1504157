"""Tables, as SQLAlchemy Core metadata. The migrations in `migrations/` create exactly these;
a test compares the two so they never drift."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)

# --- foundation: lists, contacts, purposes, notices, the consent ledger -----------------------

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

# --- sending: campaigns, their registered links, one send row per recipient -------------------

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

# --- admin: the admin account, REST API keys, login attempts (rate limit) ----------------------

admin_accounts = sa.Table(
    "admin_accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    # admin, editor or auditor (accounts.roles); a disabled user cannot sign in.
    sa.Column("role", sa.String(16), nullable=False, server_default="admin"),
    sa.Column("disabled_at", Timestamp, nullable=True),
)

# Only the SHA-256 of a key is stored; `prefix` (its first characters) lets people tell keys apart.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp, nullable=True),
    # `full`, or `signup`: the key may only start signups (R18: a key a website holds can only
    # ask an address's owner to confirm); `list_id` limits the key to one list.
    sa.Column("scope", sa.String(16), nullable=False, server_default="full"),
    sa.Column("list_id", sa.Integer, sa.ForeignKey("audience_lists.id"), nullable=True),
    sa.Column("role", sa.String(16), nullable=False, server_default="admin"),
)

# Failed sign-ins, counted per IP and per username over a window; old rows are pruned.
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(320), nullable=False, index=True),
    sa.Column("ip", sa.String(64), nullable=False, index=True),
    sa.Column("at", Timestamp, nullable=False, index=True),
)

# Signed-in admin sessions: the cookie holds a random token and its MAC; only the token's
# SHA-256 is stored. Signing out deletes the row, a password change deletes the others.
admin_sessions = sa.Table(
    "admin_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("admin_id", sa.Integer, nullable=False, index=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
)

# --- consent web: one row per consent request a contact saw or answered -----------------------

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

# --- signups waiting for their owner's confirmation (double opt-in, R18) ----------------------

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

# --- tracking: hit counters, per-campaign totals, drops, ingested batches ----------------------

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

# Ingest reads a batch's earlier events by (campaign, contact); the report counts sends by mode.
sa.Index(
    "ix_personal_events_campaign_contact",
    personal_events.c.campaign_id,
    personal_events.c.contact_id,
)
sa.Index("ix_sends_campaign_kind_mode", sends.c.campaign_id, sends.c.kind, sends.c.mode)

# --- deliverability: suppression list, bounces and complaints, outgoing webhooks ---------------

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
