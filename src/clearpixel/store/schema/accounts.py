"""Admin users, REST API keys, sign-in failures (throttle) and admin sessions."""

from __future__ import annotations

import sqlalchemy as sa

from clearpixel.store.schema.base import Timestamp, metadata

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
    # The admin UI's language for this user (`en`, `fr`); "" follows the browser.
    sa.Column("locale", sa.String(8), nullable=False, server_default=""),
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
