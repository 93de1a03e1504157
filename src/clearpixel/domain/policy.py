"""The tracking decision (DESIGN §3) as pure functions.

`decide` picks what one rendered email carries from the installation's policy, the message
kind and the contact's flags at send time. `decide_at_ingest` is the second check, made when a
hit arrives, from the flags at that moment: it is what makes a withdrawal reach mail already
sent (R5).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.flags import has_open_tracking


class MessageKind(StrEnum):
    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"
    SECURITY = "security"
    CONSENT_REQUEST = "consent_request"


class TrackingMode(StrEnum):
    PERSONAL = "personal"
    DELIVERABILITY = "deliverability"
    ANONYMOUS = "anonymous"
    NONE = "none"


class Strategy(StrEnum):
    CONSENT = "consent"
    ANONYMOUS_ONLY = "anonymous_only"
    LEGACY = "legacy"


class PolicyError(ClearpixelError, ValueError):
    """A tracking policy that the decision table does not allow."""


@dataclass(frozen=True, slots=True)
class TrackingPolicy:
    """The installation's choices that feed the decision table."""

    strategy: Strategy = Strategy.CONSENT
    nonconsent_mode: TrackingMode = TrackingMode.ANONYMOUS
    transactional_mode: TrackingMode = TrackingMode.PERSONAL
    security_mode: TrackingMode = TrackingMode.ANONYMOUS

    def __post_init__(self) -> None:
        if self.nonconsent_mode is TrackingMode.PERSONAL:
            raise PolicyError(
                "nonconsent_mode cannot be 'personal': personal tracking needs consent"
            )

    @property
    def compliant(self) -> bool:
        """False for the legacy strategy, which tracks marketing mail without consent."""
        return self.strategy is not Strategy.LEGACY


def decide(policy: TrackingPolicy, kind: MessageKind, flags: int | None) -> TrackingMode:
    """The tracking mode of one email (DESIGN §3); `flags` are the contact's at send time."""
    if kind is MessageKind.CONSENT_REQUEST:
        return TrackingMode.NONE
    if kind is MessageKind.TRANSACTIONAL:
        return policy.transactional_mode
    if kind is MessageKind.SECURITY:
        return policy.security_mode
    if policy.strategy is Strategy.LEGACY:
        return TrackingMode.PERSONAL
    if policy.strategy is Strategy.ANONYMOUS_ONLY:
        return TrackingMode.ANONYMOUS
    return TrackingMode.PERSONAL if has_open_tracking(flags) else policy.nonconsent_mode


def decide_at_ingest(
    policy: TrackingPolicy, kind: MessageKind, sent_mode: TrackingMode, flags_now: int | None
) -> TrackingMode:
    """What a hit on a pixel sent in `sent_mode` may become, from the flags at this moment.

    A hit can never be worth more than what the email was sent with, and a personal pixel
    whose contact no longer consents counts only anonymously. Exempt kinds keep their mode.
    """
    if sent_mode is not TrackingMode.PERSONAL:
        return sent_mode
    if kind in (MessageKind.TRANSACTIONAL, MessageKind.SECURITY):
        return TrackingMode.PERSONAL
    now_mode = decide(policy, kind, flags_now)
    if now_mode is TrackingMode.PERSONAL:
        return TrackingMode.PERSONAL
    return TrackingMode.ANONYMOUS
