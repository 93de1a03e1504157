"""Hits, events and machine-open verdicts: one normalised vocabulary for the hit path."""

from __future__ import annotations

from enum import StrEnum


class HitKind(StrEnum):
    OPEN = "open"
    CLICK = "click"


class Verdict(StrEnum):
    """Who made a hit: a person reading, a machine (proxy, scanner), or cannot tell."""

    HUMAN = "human"
    MACHINE = "machine"
    UNKNOWN = "unknown"


class MachineReason(StrEnum):
    APPLE_MPP = "apple_mpp"
    SECURITY_SCANNER = "security_scanner"
    PREFETCH = "prefetch"
    BURST = "burst"


class DropReason(StrEnum):
    """Why a hit produced no personal event; counted, never silent."""

    BAD_TOKEN = "bad_token"
    UNKNOWN_CAMPAIGN = "unknown_campaign"
    UNKNOWN_CONTACT = "unknown_contact"
    WITHDRAWN = "withdrawn"
    NOT_PERSONAL = "not_personal"
