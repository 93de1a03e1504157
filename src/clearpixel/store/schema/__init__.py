"""Tables, as SQLAlchemy Core metadata, one module per area. The migrations in `migrations/`
create exactly these; a test compares the two so they never drift. Importing this package
registers every table on `metadata`; modules of `store/` import their tables from here."""

from __future__ import annotations

from clearpixel.store.schema.accounts import (
    admin_accounts,
    admin_sessions,
    api_keys,
    login_failures,
)
from clearpixel.store.schema.audience import audience_lists, contacts, notices, purposes
from clearpixel.store.schema.base import Json, Timestamp, metadata
from clearpixel.store.schema.consent import consent_responses, pending_signups
from clearpixel.store.schema.deliverability import (
    bounce_events,
    suppression_log,
    suppressions,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)
from clearpixel.store.schema.ledger import consent_ledger, ledger_head, ledger_personal
from clearpixel.store.schema.sending import campaign_links, campaigns, sends
from clearpixel.store.schema.tracking import (
    campaign_totals,
    dead_letters,
    hit_counters,
    hit_drops,
    ingested_batches,
    personal_events,
)

__all__ = [
    "Json",
    "Timestamp",
    "admin_accounts",
    "admin_sessions",
    "api_keys",
    "audience_lists",
    "bounce_events",
    "campaign_links",
    "campaign_totals",
    "campaigns",
    "consent_ledger",
    "consent_responses",
    "contacts",
    "dead_letters",
    "hit_counters",
    "hit_drops",
    "ingested_batches",
    "ledger_head",
    "ledger_personal",
    "login_failures",
    "metadata",
    "notices",
    "pending_signups",
    "personal_events",
    "purposes",
    "sends",
    "suppression_log",
    "suppressions",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
]
