"""Builders for the consent-path tests: signed links for a contact, ledger reads."""

from __future__ import annotations

from datetime import timedelta

from clearpixel.context import Context
from clearpixel.domain.tokens import Token, TokenKind
from clearpixel.store.contacts import Contact, get_contact
from clearpixel.store.ledger import entries_for_contact, iter_entries


def consent_token(ctx: Context, contact_id: int, *, campaign_id: int = 1, days: int = 30) -> str:
    expires = ctx.now() + timedelta(days=days)
    return ctx.signer.sign(
        Token(
            TokenKind.CONSENT,
            contact_id,
            campaign_id=campaign_id,
            expires_at=int(expires.timestamp()),
        )
    )


def preferences_token(ctx: Context, contact_id: int) -> str:
    return ctx.signer.sign(Token(TokenKind.PREFERENCES, contact_id))


def unsubscribe_token(ctx: Context, contact_id: int) -> str:
    return ctx.signer.sign(Token(TokenKind.UNSUBSCRIBE, contact_id))


def contact(ctx: Context, contact_id: int) -> Contact:
    with ctx.db.connect() as conn:
        return get_contact(conn, contact_id)


def ledger_count(ctx: Context) -> int:
    with ctx.db.connect() as conn:
        return sum(1 for _ in iter_entries(conn))


def entries(ctx: Context, contact_id: int):  # type: ignore[no-untyped-def]
    with ctx.db.connect() as conn:
        return entries_for_contact(conn, contact_id)


def state(ctx: Context, contact_id: int) -> tuple[int | None, str, int]:
    """(flags, status, ledger size): what a request that must change nothing leaves alone."""
    found = contact(ctx, contact_id)
    return found.privacy_flags, found.status, ledger_count(ctx)
