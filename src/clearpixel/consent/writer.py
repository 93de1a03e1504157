"""The one consent writer: how a change to `privacy_flags` becomes ledger entries (R10).

Every writer of flags, in one transaction:

1. holds the ledger head lock (`flags_transaction` opens a transaction holding it; the two
   writers below take it first when the caller did not), so concurrent writers chain in
   turn and flags read under it cannot change;
2. reads the contacts' current flags and own refusals;
3. keeps out of `granted` any bit the contact refused themselves unless the decision is
   their own (`domain.ledger_effects.grantable`, R19), counting it;
4. chains one entry per change (`domain.ledger_chain.chain`, or `batch_hasher` for a batch that
   shares list, method, time and actor: a property test holds the two equal), each with a
   fresh 128-bit salt and the commitment to its personal fields under it, stores the entries
   with their openings apart and the new flags, and moves the head (`store/ledger.py`,
   persistence only);
5. notes each change's effects (`domain.ledger_effects.Effects`): which contacts withdrew open
   tracking and which start the consent-request cool-down. `consent/decisions.py` applies
   them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from secrets import token_hex

from clearpixel.domain.ledger import OWN_CHOICE_METHODS, Decision, LedgerEntry
from clearpixel.domain.ledger_chain import batch_hasher, chain, commitment, encode_evidence
from clearpixel.domain.ledger_effects import Effects, grantable, refused_after
from clearpixel.domain.progress import RunningCount
from clearpixel.store import Database, Tx
from clearpixel.store.contacts import UnknownContact
from clearpixel.store.ledger import (
    Chained,
    flags_for_change,
    flags_from_entries,
    insert_chained,
    insert_entries,
    move_head,
    read_head,
    write_contact_flags,
)


@contextmanager
def flags_transaction(db: Database) -> Iterator[Tx]:
    """One write transaction that holds the ledger head lock from its start: nothing else
    changes flags until it commits, so what the caller reads inside stays true."""
    with db.begin() as tx:
        read_head(tx, for_update=True)
        yield tx


@dataclass(frozen=True, slots=True)
class Applied:
    """What `apply_decisions` wrote, per contact the bits it did not grant because the
    contact had refused or withdrawn them themselves (R19), and the changes' effects."""

    entries: list[LedgerEntry] = field(default_factory=list)
    skipped: dict[int, int] = field(default_factory=dict)
    effects: Effects = field(default_factory=Effects)


def apply_decisions(
    tx: Tx, decisions: Sequence[Decision], *, keep_unchanged: bool = False
) -> Applied:
    """Append one ledger entry per decision that changes flags (or every decision when
    `keep_unchanged`), and write the contacts' new flags and own refusals. A decision that
    is not the contact's own grants none of the bits the contact refused themselves.

    Effects: consent_ledger rows, contacts.privacy_flags, refused_flags and updated_at,
    ledger_head. Raises UnknownContact when a decision names a contact that does not exist.
    """
    if not decisions:
        return Applied()
    seq, prev_hash = read_head(tx, for_update=True)
    current = flags_for_change(tx, sorted({d.contact_id for d in decisions}))
    flags = {cid: value for cid, (value, _) in current.items()}
    refused = {cid: bits for cid, (_, bits) in current.items()}
    skipped: dict[int, int] = {}
    entries: list[LedgerEntry] = []
    evidence_json: list[str] = []
    evidence_of: tuple[object, str] | None = None
    effects = Effects()
    for decision in decisions:
        if decision.contact_id not in flags:
            raise UnknownContact(f"no contact with id {decision.contact_id}")
        if evidence_of is None or evidence_of[0] is not decision.evidence:
            evidence_of = (decision.evidence, encode_evidence(decision.evidence))
        cid = decision.contact_id
        allowed = grantable(decision.method, decision.granted, refused[cid])
        if allowed != decision.granted:
            skipped[cid] = skipped.get(cid, 0) | (decision.granted & ~allowed)
            decision = replace(decision, granted=allowed)
        before = flags[cid]
        entry = chain(
            decision,
            seq=seq + 1,
            flags_before=before,
            prev_hash=prev_hash,
            salt=token_hex(16),
            evidence_json=evidence_of[1],
        )
        if entry.flags_after == before and not keep_unchanged:
            continue
        entries.append(entry)
        evidence_json.append(evidence_of[1])
        effects.add(cid, entry.method, before, entry.flags_after, entry.revoked)
        flags[cid] = entry.flags_after
        refused[cid] = refused_after(
            decision.method, refused[cid], granted=allowed, revoked=decision.revoked
        )
        seq, prev_hash = entry.seq, entry.hash
    if not entries:
        return Applied(skipped=skipped)
    insert_entries(tx, entries, evidence_json)
    write_contact_flags(
        tx, {e.contact_id: (e.flags_after, refused[e.contact_id], e.at) for e in entries}
    )
    move_head(tx, seq, prev_hash)
    return Applied(entries, skipped, effects)


# One change of a batch: (contact_id, email, flags_before, refused_flags, granted, revoked,
# evidence_json); refused_flags are the contact's own refusals, which the change cannot grant.
Change = tuple[int, str, int | None, int, int, int, str]


@dataclass(frozen=True, slots=True)
class ChangesWritten:
    """What `append_changes` wrote: how many entries, their effects, and how many changes
    lost a bit to grant because the contact had refused it themselves (R19)."""

    entries: int
    effects: Effects = field(default_factory=Effects)
    skipped_refused: int = 0


def append_changes(
    tx: Tx,
    batches: Iterable[Sequence[Change]],
    *,
    list_id: int,
    method: str,
    at: datetime,
    actor: str = "",
    progress: RunningCount | None = None,
    cooldown_until: datetime | None = None,
) -> ChangesWritten:
    """Append one chained entry per change (its contact's flags become `(before | granted) &
    ~revoked`, where the granted bits the contact refused themselves are left out and
    counted; a change left with nothing to change writes no entry), in the order given, then
    write the contacts' new flags and move the head. Each contact appears at most once.
    `method` is never one of the person's own choices (those go through `apply_decisions`).
    With `cooldown_until`, every contact whose change starts the cool-down gets it in the
    same statement as its flags.

    The set-based form of `apply_decisions` for many changes sharing list, method, time and
    actor: each entry costs a template fill and a SHA-256, the entries go through COPY
    (PostgreSQL) and the flags are written by one UPDATE joined to the entries just written.
    `batches` may be a generator reading the database between batches.

    Effects: consent_ledger rows, contacts.privacy_flags and updated_at (and the cool-down),
    ledger_head.
    """
    if method in OWN_CHOICE_METHODS:
        raise ValueError(f"{method} decisions go through apply_decisions")
    seq, prev_hash = read_head(tx, for_update=True)
    start = seq
    digest = batch_hasher(list_id=list_id, method=method, at=at, actor=actor)
    commit = commitment
    effects = Effects()
    note = effects.add
    skipped = 0
    seen = 0
    for changes in batches:
        chained: list[Chained] = []
        for cid, email, before, refused, wanted, revoked, evidence_json in changes:
            granted = wanted & ~refused
            if granted != wanted:
                skipped += 1
            after = ((before or 0) | granted) & ~revoked
            if after == before:
                continue
            seq += 1
            salt = token_hex(16)
            personal = commit(salt, email, evidence_json)
            entry_digest = digest(seq, cid, personal, before, after, granted, revoked, prev_hash)
            chained.append(
                (seq, cid, email, before, after, granted, revoked, evidence_json, prev_hash,
                 entry_digest, personal, salt)
            )  # fmt: skip
            prev_hash = entry_digest
            note(cid, method, before, after, revoked)
        insert_chained(tx, chained, list_id=list_id, at=at, method=method, actor=actor)
        seen += len(changes)
        if progress:
            progress(seen)
    if seq == start:
        return ChangesWritten(0, Effects(), skipped)
    flags_from_entries(
        tx,
        after=start,
        upto=seq,
        at=at,
        cooling=effects.cooling if cooldown_until is not None else (),
        cooldown_until=cooldown_until,
    )
    move_head(tx, seq, prev_hash)
    return ChangesWritten(seq - start, effects, skipped)
