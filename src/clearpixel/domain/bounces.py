"""Bounces, complaints and the suppression rules, as pure data and functions.

A bounce names its recipient through the envelope sender of the message it answers: a VERP
address `b<token>@<bounce domain>` whose local part is a signed BOUNCE token of
(campaign, contact), written in lower-case base32 so that a relay that folds the case of a
local part does not break it (33 characters, well under the 64 of RFC 5321 4.5.3.1.1).
Whoever did not receive one of our messages cannot forge one: a report that names no valid
token is not attributed to anyone.

Every source (the SMTP transport's own answers, DSNs and ARF reports received by mail, signed
webhooks) becomes one `BounceEvent`; `suppression_for` says what the event does to the
installation-wide suppression list.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from clearpixel.domain.tokens import MalformedToken, Token, TokenKind, TokenSigner

VERP_PREFIX = "b"
MAX_LOCAL_PART = 64
_B32 = re.compile(r"^[a-z2-7]+$")


class BounceKind(StrEnum):
    HARD = "hard"
    SOFT = "soft"
    COMPLAINT = "complaint"


class SuppressionReason(StrEnum):
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE_THRESHOLD = "soft_bounce_threshold"
    COMPLAINT = "complaint"
    MANUAL = "manual"
    UNSUBSCRIBED_EVERYWHERE = "unsubscribed_everywhere"
    INACTIVE = "inactive"


class SmtpStage(StrEnum):
    """The SMTP command whose reply failed a delivery."""

    CONNECT = "connect"  # connection, TLS, greeting, EHLO, AUTH
    MAIL = "mail"  # MAIL FROM: about the sender, never the recipient
    RCPT = "rcpt"  # RCPT TO: about this recipient
    DATA = "data"  # after DATA: about the message, unless the status code names the mailbox


@dataclass(frozen=True, slots=True)
class BounceEvent:
    """One normalised bounce or complaint, whatever its source."""

    kind: BounceKind
    email: str
    source: str  # smtp, dsn, arf, webhook:<provider>
    at: datetime
    status: str = ""  # enhanced status code, e.g. 5.1.1
    diagnostic: str = ""
    campaign_id: int | None = None
    contact_id: int | None = None
    evidence: dict[str, str] = field(default_factory=dict)


# --- VERP return path -------------------------------------------------------------------------


def verp_address(signer: TokenSigner, *, campaign_id: int, contact_id: int, domain: str) -> str:
    """The envelope sender for one recipient of one campaign."""
    signed = signer.sign(Token(TokenKind.BOUNCE, contact_id, campaign_id=campaign_id))
    raw = base64.urlsafe_b64decode(signed + "=" * (-len(signed) % 4))
    local = VERP_PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=").lower()
    if len(local) > MAX_LOCAL_PART:
        raise ValueError("VERP local part over 64 characters")
    return f"{local}@{domain}"


def verp_token(signer: TokenSigner, address: str, *, domain: str) -> Token:
    """The (campaign, contact) a VERP address names. Raises TokenError for anything that is
    not an address on `domain` carrying a valid BOUNCE token."""
    local, _, host = address.strip().strip("<>").rpartition("@")
    local = local.lower()
    if host.lower() != domain.lower() or not local.startswith(VERP_PREFIX):
        raise MalformedToken("not a return path of this installation")
    text = local[len(VERP_PREFIX) :]
    if not text or len(text) > MAX_LOCAL_PART or not _B32.match(text):
        raise MalformedToken("not a VERP token")
    try:
        raw = base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError) as exc:
        raise MalformedToken("not base32") from exc
    if base64.b32encode(raw).decode("ascii").rstrip("=").lower() != text:
        raise MalformedToken("not canonical base32")  # one spelling per token: no spare bits
    signed = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return signer.verify(signed, TokenKind.BOUNCE)


# --- what an SMTP answer means ------------------------------------------------------------------

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
MAILBOX_FULL = "5.2.2"


def enhanced_status(text: str) -> str:
    """The first RFC 3463 status code (`5.1.1`) in a reply or diagnostic, or ''."""
    found = _ENHANCED.search(text)
    return ".".join(found.groups()) if found else ""


def classify_smtp(stage: SmtpStage, code: int, message: str) -> BounceKind | None:
    """The bounce an SMTP reply that ended a delivery means for its recipient, or None when
    it says nothing about the recipient.

    - RCPT TO refused: 5xx is a hard bounce (`550 5.1.1 no such user`), 4xx still failing
      after the retries a soft one;
    - after DATA, a message of one recipient: only a status naming the address or the mailbox
      (X.1.x, X.2.x) is about the recipient; content, policy and system codes (X.3, X.6,
      X.7 ...) or no code at all are about the message, not a bounce;
    - connection, greeting, TLS, AUTH and MAIL FROM failures are never a recipient's bounce.
    A full mailbox (5.2.2) is soft: it may empty.
    """
    status = enhanced_status(message)
    if stage is SmtpStage.RCPT:
        if status == MAILBOX_FULL:
            return BounceKind.SOFT
        return BounceKind.HARD if code >= 500 else BounceKind.SOFT
    if stage is SmtpStage.DATA and status.split(".")[1:2] in (["1"], ["2"]):
        if status == MAILBOX_FULL or code < 500:
            return BounceKind.SOFT
        return BounceKind.HARD
    return None


def classify_dsn(action: str, status: str) -> BounceKind | None:
    """An RFC 3464 per-recipient block: `failed` with 5.x.x is hard (5.2.2 soft), `failed` or
    `delayed` with 4.x.x soft; `delivered`, `relayed`, `expanded` are not bounces."""
    action = action.strip().lower()
    if action not in ("failed", "delayed"):
        return None
    if status.startswith("5") and action == "failed":
        return BounceKind.SOFT if status == MAILBOX_FULL else BounceKind.HARD
    if status.startswith(("4", "5")):
        return BounceKind.SOFT
    return BounceKind.HARD if action == "failed" else BounceKind.SOFT


# --- the suppression rules ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SoftBouncePolicy:
    """Soft bounces suppress once `limit` of them fall within `window`."""

    limit: int = 3
    window: timedelta = timedelta(days=30)

    def since(self, now: datetime) -> datetime:
        return now - self.window


def suppression_for(
    kind: BounceKind, *, soft_bounces_in_window: int, policy: SoftBouncePolicy
) -> SuppressionReason | None:
    """What one recorded event does to the suppression list: a complaint and a hard bounce
    suppress at once; soft bounces once `policy.limit` of them (this one included) fall in
    the window."""
    if kind is BounceKind.COMPLAINT:
        return SuppressionReason.COMPLAINT
    if kind is BounceKind.HARD:
        return SuppressionReason.HARD_BOUNCE
    if soft_bounces_in_window >= policy.limit:
        return SuppressionReason.SOFT_BOUNCE_THRESHOLD
    return None


def normalise_address(email: str) -> str:
    """The form addresses are kept in on the suppression list: trimmed, lower case (mailbox
    providers treat local parts case-insensitively, and a bounce may change the case)."""
    return email.strip().strip("<>").lower()
