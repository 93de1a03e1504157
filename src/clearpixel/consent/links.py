"""Signed links of the public pages: verify one, find its contact, and fail the same way for
a forged link and for a contact that no longer exists, so no page reveals whether an address
is known."""

from __future__ import annotations

from datetime import datetime

from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.tokens import ExpiredToken, Token, TokenError, TokenKind
from clearpixel.store import Tx
from clearpixel.store.contacts import Contact, UnknownContact, get_contact


class InvalidLink(ClearpixelError, ValueError):
    """A link we cannot act on. `expired` tells an expired consent link (HTTP 410) from a
    forged, damaged or unknown one (HTTP 400); neither says anything about an address."""

    def __init__(self, message: str, *, expired: bool = False, reason: str = "") -> None:
        super().__init__(message)
        self.expired = expired
        self.reason = reason


def verify_link(ctx: Context, token: str, kind: TokenKind, *, now: datetime) -> Token:
    """The token's fields, or InvalidLink."""
    try:
        return ctx.signer.verify(token, kind, now=now.timestamp())
    except ExpiredToken as exc:
        raise InvalidLink("this link has expired", expired=True, reason=exc.reason) from exc
    except TokenError as exc:
        raise InvalidLink("this link is not valid", reason=exc.reason) from exc


def contact_for(tx: Tx, contact_id: int) -> Contact:
    """The link's contact; a deleted one reads exactly like a forged link."""
    try:
        return get_contact(tx, contact_id)
    except UnknownContact as exc:
        raise InvalidLink("this link is not valid", reason="unknown_contact") from exc
