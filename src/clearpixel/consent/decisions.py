"""Recording consent decisions: ledger entry, new flags and withdrawal effects, one transaction.

Every path that changes `privacy_flags` (signup form, consent page, preference page, one-click
withdrawal, import, API, bulk update, admin) calls `record_decision` or its batch form
`record_decisions`. Inside one transaction they append the chained ledger entries, write the
new flags (NULL-safe, R15), and for each contact that lost open-tracking consent forget what
the tracking produced about it (R5, R20: its personal events, opens and clicks, and its
last-open and last-click dates) and start the consent-request cool-down (R8).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from clearpixel.consent.writer import (
    Change,
    ChangesWritten,
    append_changes,
    apply_decisions,
    flags_transaction,
)
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.flags import Purposes
from clearpixel.domain.ledger import PERSONAL_METHODS, Decision, LedgerEntry, Method
from clearpixel.domain.ledger_chain import encode_evidence
from clearpixel.domain.ledger_effects import Effects
from clearpixel.domain.progress import RunningCount
from clearpixel.store import Database, Tx
from clearpixel.store.contacts import clear_activity_dates, get_contact, set_cooldown
from clearpixel.store.events import forget_personal_events
from clearpixel.store.ledger import grant_targets

__all__ = ["Change", "ChangesWritten", "flags_transaction"]


@dataclass(frozen=True, slots=True)
class DecisionResult:
    """What a batch of decisions did."""

    entries: list[LedgerEntry] = field(default_factory=list)
    withdrawn: list[int] = field(default_factory=list)
    forgotten_events: int = 0
    # contact id -> bits not granted because the contact refused them themselves (R19)
    skipped_refused: dict[int, int] = field(default_factory=dict)


def _apply_effects(tx: Tx, effects: Effects, *, cooldown_until: datetime | None) -> int:
    """What a change sets off beyond the flags: for contacts that withdrew open tracking,
    their personal events deleted and activity dates cleared (R5, R20); with
    `cooldown_until`, the consent-request cool-down of those it starts for (R8). Returns how
    many events went."""
    forgotten = 0
    withdrawn = sorted(set(effects.withdrawn))
    if withdrawn:
        clear_activity_dates(tx, withdrawn)
        forgotten = forget_personal_events(tx, withdrawn)
    if cooldown_until is not None and effects.cooling:
        set_cooldown(tx, sorted(set(effects.cooling)), cooldown_until)
    return forgotten


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
    until = entries[-1].at + cooldown if entries else None
    forgotten = _apply_effects(tx, applied.effects, cooldown_until=until)
    withdrawn = sorted(set(applied.effects.withdrawn))
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
    progress: RunningCount | None = None,
) -> int:
    """Grant `bit` to every contact of the list that lacks it (with `only_null`, to those never
    asked) and did not refuse it themselves (R19), inside `tx`: the same entries
    `record_decisions` writes for one `bulk` decision per such contact, computed set-wise.
    Returns how many contacts changed.

    Effects: one ledger entry per changed contact (method bulk), their flags
    `COALESCE(flags, 0) | bit` (R15). A grant only adds bits, so there is no withdrawal to
    forget or cool down. `progress` is called with the number of contacts handled so far.
    """
    evidence_json = encode_evidence(evidence)
    batches = (
        [(cid, email, before, 0, bit, 0, evidence_json) for cid, email, before in rows]
        for rows in grant_targets(tx, list_id, bit=bit, only_null=only_null, batch=20000)
    )
    written = append_changes(
        tx, batches, list_id=list_id, method=Method.BULK, at=now, actor=actor, progress=progress
    )
    return written.entries


def record_changes(
    tx: Tx,
    batches: Iterable[Sequence[Change]],
    *,
    list_id: int,
    method: Method,
    now: datetime,
    cooldown: timedelta,
    actor: str = "",
    progress: RunningCount | None = None,
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
    written = append_changes(
        tx,
        batches,
        list_id=list_id,
        method=method,
        at=now,
        actor=actor,
        progress=progress,
        cooldown_until=now + cooldown,
    )
    # the cool-down went with the flags; what the tracking produced about the withdrawn goes
    _apply_effects(tx, written.effects, cooldown_until=None)
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


def record_admin_choice(
    db: Database,
    purposes: Purposes,
    contact_id: int,
    *,
    grant: Sequence[str],
    revoke: Sequence[str],
    evidence: str,
    actor: str,
    now: datetime,
    cooldown: timedelta,
) -> DecisionResult:
    """Record, with method `admin`, a choice the contact made elsewhere (a letter, a call):
    it names the purposes granted or withdrawn and says how the contact made it (R18: an
    operator's own decisions name their actor).

    Effects: as `record_decision`. Raises ClearpixelError, storing nothing, without evidence
    or without a purpose; FlagsError for a purpose the installation does not define.
    """
    note = evidence.replace("\x00", "").strip()
    if not note:
        raise ClearpixelError("say how the contact made this choice (evidence)")
    if not grant and not revoke:
        raise ClearpixelError("choose at least one purpose to grant or withdraw")
    return record_decision(
        db,
        contact_id,
        granted=purposes.mask(grant),
        revoked=purposes.mask(revoke),
        method=Method.ADMIN,
        now=now,
        cooldown=cooldown,
        actor=actor,
        evidence={"note": note[:2000]},
    )
