"""Recording consent decisions: ledger entry, new flags and withdrawal effects, one transaction.

Every path that changes `privacy_flags` (signup form, consent page, preference page, one-click
withdrawal, import, API, bulk update, admin) calls `record_decision` or its batch form
`record_decisions`. Inside one transaction they append the chained ledger entries, write the
new flags (NULL-safe, R15), and for each contact that lost open-tracking consent forget what
the tracking produced about it (R5, R20: its personal events, opens and clicks, and its
last-open and last-click dates) and start the consent-request cool-down (R8).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from clearpixel.domain.flags import OPEN_TRACKING_BIT, has_open_tracking
from clearpixel.domain.ledger import PERSONAL_METHODS, Decision, LedgerEntry, Method
from clearpixel.store import Database, Tx
from clearpixel.store.contacts import clear_activity_dates, get_contact, set_cooldown
from clearpixel.store.events import forget_personal_events
from clearpixel.store.ledger import (
    Change,
    ChangesWritten,
    append_changes,
    apply_decisions,
    grant_to_targets,
)


@dataclass(frozen=True, slots=True)
class DecisionResult:
    """What a batch of decisions did."""

    entries: list[LedgerEntry] = field(default_factory=list)
    withdrawn: list[int] = field(default_factory=list)
    forgotten_events: int = 0
    # contact id -> bits not granted because the contact refused them themselves (R19)
    skipped_refused: dict[int, int] = field(default_factory=dict)


def _forget_tracking(tx: Tx, contact_ids: list[int]) -> int:
    """What the tracking produced about contacts that withdrew: their personal events and
    activity dates. Returns how many events went."""
    if not contact_ids:
        return 0
    clear_activity_dates(tx, contact_ids)
    return forget_personal_events(tx, contact_ids)


def record_decisions(
    tx: Tx,
    decisions: Sequence[Decision],
    *,
    cooldown: timedelta,
    keep_unchanged: bool | None = None,
) -> DecisionResult:
    """Apply decisions inside the caller's transaction `tx`.

    Effects: one ledger entry per decision that changes flags (decisions a person made are
    logged even without a change, as proof of the choice, unless `keep_unchanged` says
    otherwise); contacts' `privacy_flags` and own refusals (a decision that is not the
    contact's own never grants a bit the contact refused: skipped, R19); for contacts that
    lose bit 1, their personal events deleted and activity dates cleared; for every refusal
    or withdrawal of bit 1, and every import that records 0 (asked, nothing granted),
    `consent_cooldown_until` set (R8).
    """
    if not decisions:
        return DecisionResult()
    keep = (
        keep_unchanged
        if keep_unchanged is not None
        else all(d.method in PERSONAL_METHODS for d in decisions)
    )
    applied = apply_decisions(tx, decisions, keep_unchanged=keep)
    entries = applied.entries
    withdrawn = sorted(
        {
            e.contact_id
            for e in entries
            if has_open_tracking(e.flags_before) and not has_open_tracking(e.flags_after)
        }
    )
    forgotten = _forget_tracking(tx, withdrawn)
    refused = sorted(
        {
            e.contact_id
            for e in entries
            if (e.revoked & OPEN_TRACKING_BIT and not has_open_tracking(e.flags_after))
            or (e.method == Method.IMPORT and e.flags_after == 0)
        }
    )
    if refused:
        set_cooldown(tx, refused, entries[-1].at + cooldown)
    return DecisionResult(entries, withdrawn, forgotten, applied.skipped)


def record_bulk_grant(
    tx: Tx,
    list_id: int,
    *,
    bit: int,
    only_null: bool,
    now: datetime,
    actor: str,
    evidence: Mapping[str, Any],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Grant `bit` to every contact of the list that lacks it (with `only_null`, to those never
    asked) and did not refuse it themselves (R19), inside `tx`: the same entries
    `record_decisions` writes for one `bulk` decision per such contact, computed set-wise.
    Returns how many contacts changed.

    Effects: one ledger entry per changed contact (method bulk), their flags
    `COALESCE(flags, 0) | bit` (R15). A grant only adds bits, so there is no withdrawal to
    forget or cool down. `progress` is called with the number of contacts handled so far.
    """
    return grant_to_targets(
        tx,
        list_id,
        bit=bit,
        only_null=only_null,
        method=Method.BULK,
        at=now,
        actor=actor,
        evidence=evidence,
        progress=progress,
    )


def record_changes(
    tx: Tx,
    batches: Iterable[Sequence[Change]],
    *,
    list_id: int,
    method: Method,
    now: datetime,
    cooldown: timedelta,
    actor: str = "",
    progress: Callable[[int], None] | None = None,
) -> ChangesWritten:
    """`record_decisions` for many changes that share list, method and time (an import):
    `batches` of (contact id, email, flags before, own refusals, granted, revoked, evidence
    JSON), each contact at most once, chained set-wise. Returns what was written, with how
    many changes lost a bit the contact had refused themselves (R19).

    Effects: as `record_decisions`: one ledger entry per change, the new flags, and for
    contacts that lose bit 1 their personal events and activity dates forgotten (R5) and,
    for a refusal the import records (flags 0, or bit 1 revoked), the consent-request
    cool-down started (R8).
    """
    # a refusal the file records (0, or open tracking revoked) starts the cool-down (R8)
    written = append_changes(
        tx,
        batches,
        list_id=list_id,
        method=method,
        at=now,
        actor=actor,
        progress=progress,
        cooldown_until=now + cooldown if method == Method.IMPORT else None,
    )
    withdrawn = sorted(
        cid for cid, before, after, _ in written.lost_open_tracking if has_open_tracking(before)
    )
    _forget_tracking(tx, withdrawn)
    if method != Method.IMPORT:
        refused = sorted(
            cid for cid, _, _, revoked in written.lost_open_tracking if revoked & OPEN_TRACKING_BIT
        )
        if refused:
            set_cooldown(tx, refused, now + cooldown)
    return written


def record_decision(
    db: Database,
    contact_id: int,
    *,
    granted: int = 0,
    revoked: int = 0,
    method: Method,
    now: datetime,
    cooldown: timedelta,
    actor: str = "",
    notice_id: int | None = None,
    notice_sha256: str | None = None,
    evidence: Mapping[str, Any] | None = None,
) -> DecisionResult:
    """Record one contact's decision in its own transaction, committed before returning.

    Effects: as `record_decisions`. Raises UnknownContact if there is no such contact.
    """
    with db.begin() as tx:
        contact = get_contact(tx, contact_id)
        decision = Decision(
            contact_id=contact.id,
            list_id=contact.list_id,
            email=contact.email,
            granted=granted,
            revoked=revoked,
            method=method,
            at=now,
            actor=actor,
            notice_id=notice_id,
            notice_sha256=notice_sha256,
            evidence=dict(evidence or {}),
        )
        return record_decisions(tx, [decision], cooldown=cooldown)
