"""What one consent change sets off beyond the flags, computed once for every writer (R8, R5,
R19): which bits a method may grant over the person's own refusals, the refusals after it,
whether it withdraws open tracking (past personal events detached) and whether it starts
the consent-request cool-down."""

from __future__ import annotations

from dataclasses import dataclass, field

from clearpixel.domain.flags import OPEN_TRACKING_BIT
from clearpixel.domain.ledger import OWN_CHOICE_METHODS, Method


def grantable(method: str, granted: int, refused: int) -> int:
    """The bits of `granted` a decision made by `method` may set, given the bits the contact
    refused or withdrew themselves (`refused`): all of them for the person's own choice, the
    others only for any other method (R19)."""
    return granted if method in OWN_CHOICE_METHODS else granted & ~refused


def refused_after(method: str, refused: int, *, granted: int, revoked: int) -> int:
    """The contact's own refusals after a decision: their own choice adds what it revokes and
    lifts what it grants; any other method leaves them as they are."""
    if method not in OWN_CHOICE_METHODS:
        return refused
    return (refused & ~granted) | revoked


def withdraws(flags_before: int | None, flags_after: int) -> bool:
    """A change that takes open-tracking consent away: what the tracking produced about the
    contact is forgotten (its personal events and activity dates, R5, R20)."""
    return bool((flags_before or 0) & OPEN_TRACKING_BIT) and not flags_after & OPEN_TRACKING_BIT


def starts_cooldown(method: str, flags_after: int, revoked: int) -> bool:
    """A change that records a refusal of open tracking starts the consent-request cool-down
    (R8): open tracking revoked and not held afterwards, or an import that records 0 (asked,
    nothing granted; R19)."""
    if revoked & OPEN_TRACKING_BIT and not flags_after & OPEN_TRACKING_BIT:
        return True
    return method == Method.IMPORT and flags_after == 0


@dataclass(slots=True)
class Effects:
    """What a set of chained changes sets off beyond the flags: the contacts that withdrew
    open tracking (`withdraws`) and those whose cool-down starts (`starts_cooldown`), each
    in the order first seen."""

    withdrawn: list[int] = field(default_factory=list)
    cooling: list[int] = field(default_factory=list)

    def add(
        self, contact_id: int, method: str, flags_before: int | None, flags_after: int, revoked: int
    ) -> None:
        """Note the effects of one change."""
        if withdraws(flags_before, flags_after):
            self.withdrawn.append(contact_id)
        if starts_cooldown(method, flags_after, revoked):
            self.cooling.append(contact_id)
