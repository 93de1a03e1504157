"""Named queries for the consent ledger: the one place `privacy_flags` are written.

`apply_decisions` locks the ledger head (so concurrent writers chain in turn), reads the
contacts' current flags, appends one chained entry per change, writes the new flags and moves
the head, all inside the caller's transaction (DESIGN R10, R11). `append_changes` does the
same set-wise for many changes sharing list, method and time (bulk grant, import).

Beside the flags every writer keeps `refused_flags`, the bits the contact refused or
withdrew themselves, from the same entries (`domain.ledger.refused_after`), and never grants
one of them on a decision that is not the contact's own (`grantable`, R19): such a bit is
skipped and counted, so no caller can bypass the rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearpixel.domain.flags import OPEN_TRACKING_BIT
from clearpixel.domain.ledger import (
    OWN_CHOICE_METHODS,
    Decision,
    LedgerEntry,
    batch_hasher,
    chain,
    encode_evidence,
    grantable,
    refused_after,
)
from clearpixel.store.contacts import UnknownContact, iter_flag_targets, lock_contacts
from clearpixel.store.db import Tx
from clearpixel.store.ledger_copy import (
    COLUMNS,
    Chained,
    copy_chained,
    copy_entries,
    current_flags,
    raw,
    write_flags,
)
from clearpixel.store.schema import consent_ledger, contacts, ledger_head


def _entry(row: sa.Row[Any]) -> LedgerEntry:
    values = row._asdict()
    values["evidence"] = dict(values["evidence"] or {})
    return LedgerEntry(**values)


def read_head(tx: Tx, *, for_update: bool = False) -> tuple[int, str]:
    """The seq and hash of the last entry; with `for_update`, locked until commit."""
    query = sa.select(ledger_head.c.seq, ledger_head.c.hash).where(ledger_head.c.id == 1)
    if for_update and tx.dialect.name == "postgresql":
        query = query.with_for_update()
    row = tx.execute(query).one()
    return int(row.seq), str(row.hash)


# At or above this many decisions, PostgreSQL writes entries through COPY and flags in one
# UPDATE joined to arrays.
BULK_THRESHOLD = 500


@dataclass(frozen=True, slots=True)
class Applied:
    """What `apply_decisions` wrote, and per contact the bits it did not grant because the
    contact had refused or withdrawn them themselves (R19)."""

    entries: list[LedgerEntry] = field(default_factory=list)
    skipped: dict[int, int] = field(default_factory=dict)


def apply_decisions(
    tx: Tx, decisions: Sequence[Decision], *, keep_unchanged: bool = False
) -> Applied:
    """Append one ledger entry per decision that changes flags (or every decision when
    `keep_unchanged`), and write the contacts' new flags and own refusals. A decision that
    is not the contact's own grants none of the bits the contact refused themselves.

    Effects: consent_ledger rows, contacts.privacy_flags, refused_flags and updated_at,
    ledger_head. Raises UnknownContact when a decision names a contact that does not exist.

    The ledger head is locked first, so concurrent writers chain in turn. Every writer of
    `privacy_flags` comes through here and takes that lock before reading flags, so once it
    is held the flags read below cannot change under us. A large batch on PostgreSQL
    therefore reads flags without row locks and writes through COPY: the same entries, the
    same flags, a fraction of the round trips.
    """
    if not decisions:
        return Applied()
    seq, prev_hash = read_head(tx, for_update=True)
    bulk = tx.dialect.name == "postgresql" and len(decisions) >= BULK_THRESHOLD
    ids = sorted({d.contact_id for d in decisions})
    if bulk:
        current = current_flags(tx, ids)
    else:
        current = {
            cid: (c.privacy_flags, c.refused_flags) for cid, c in lock_contacts(tx, ids).items()
        }
    flags = {cid: value for cid, (value, _) in current.items()}
    refused = {cid: bits for cid, (_, bits) in current.items()}
    skipped: dict[int, int] = {}
    entries: list[LedgerEntry] = []
    evidence_json: list[str] = []
    evidence_of: tuple[object, str] | None = None
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
            evidence_json=evidence_of[1],
        )
        if entry.flags_after == before and not keep_unchanged:
            continue
        entries.append(entry)
        evidence_json.append(evidence_of[1])
        flags[cid] = entry.flags_after
        refused[cid] = refused_after(
            decision.method, refused[cid], granted=allowed, revoked=decision.revoked
        )
        seq, prev_hash = entry.seq, entry.hash
    if not entries:
        return Applied(skipped=skipped)
    changed = {e.contact_id: (e.flags_after, refused[e.contact_id], e.at) for e in entries}
    if bulk:
        copy_entries(tx, entries, evidence_json)
        write_flags(tx, changed)
    else:
        tx.execute(consent_ledger.insert(), [_row(e) for e in entries])
        tx.execute(
            contacts.update()
            .where(contacts.c.id == sa.bindparam("cid"))
            .values(
                privacy_flags=sa.bindparam("flags"),
                refused_flags=sa.bindparam("refused"),
                updated_at=sa.bindparam("now"),
            ),
            [
                {"cid": cid, "flags": f, "refused": r, "now": at}
                for cid, (f, r, at) in changed.items()
            ],
        )
    tx.execute(ledger_head.update().where(ledger_head.c.id == 1).values(seq=seq, hash=prev_hash))
    return Applied(entries, skipped)


def grant_to_targets(
    tx: Tx,
    list_id: int,
    *,
    bit: int,
    only_null: bool,
    method: str,
    at: datetime,
    actor: str,
    evidence: Mapping[str, Any],
    batch: int = 20000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Grant `bit` to every contact of the list that lacks it (flags NULL or without the
    bit; with `only_null`, flags NULL only): one chained entry per contact, the new flags
    `COALESCE(flags, 0) | bit`, the head moved. Returns how many contacts changed.

    The set-based form of `apply_decisions` for one change shared by many contacts: the
    targets stream from one query, each entry costs a template fill and a SHA-256, the entries
    go through COPY (PostgreSQL) and the flags are written by one UPDATE joined to the entries
    just written. A grant only adds bits, so it has no withdrawal effects to apply. Contacts
    who refused the bit themselves are no targets (R19). Every writer of `privacy_flags`
    holds the head lock, taken first here, so the targets read cannot change before the
    UPDATE.

    Effects: consent_ledger rows, contacts.privacy_flags and updated_at, ledger_head.
    """
    evidence_json = encode_evidence(evidence)
    batches = (
        [(cid, email, before, 0, bit, 0, evidence_json) for cid, email, before in rows]
        for rows in _grant_targets(tx, list_id, bit=bit, only_null=only_null, batch=batch)
    )
    written = append_changes(
        tx, batches, list_id=list_id, method=method, at=at, actor=actor, progress=progress
    )
    return written.entries


# One change of a batch: (contact_id, email, flags_before, refused_flags, granted, revoked,
# evidence_json); refused_flags are the contact's own refusals, which the change cannot grant.
Change = tuple[int, str, int | None, int, int, int, str]


@dataclass(frozen=True, slots=True)
class ChangesWritten:
    """What `append_changes` wrote: how many entries; the (contact id, flags_before,
    flags_after, revoked) of those that leave the contact without open tracking while it had
    it or while revoking it (the withdrawal effects the consent service applies); the
    contacts whose entry leaves them without open tracking; and how many changes lost a bit
    to grant because the contact had refused it themselves (R19)."""

    entries: int
    lost_open_tracking: list[tuple[int, int | None, int, int]]
    skipped_refused: int = 0


def append_changes(
    tx: Tx,
    batches: Iterable[Sequence[Change]],
    *,
    list_id: int,
    method: str,
    at: datetime,
    actor: str = "",
    progress: Callable[[int], None] | None = None,
    cooldown_until: datetime | None = None,
) -> ChangesWritten:
    """Append one chained entry per change (its contact's flags become `(before | granted) &
    ~revoked`, where the granted bits the contact refused themselves are left out and
    counted; a change left with nothing to change writes no entry), in the order given, then
    write the contacts' new flags and move the head. Each contact appears at most once.
    `method` is never one of the person's own choices (those go through `apply_decisions`).
    With `cooldown_until`, every contact whose entry records a refusal (flags 0, or open
    tracking revoked) gets that consent-request cool-down in the same UPDATE as its flags.

    The set-based form of `apply_decisions` for many changes sharing list, method, time and
    actor: each entry costs a template fill and a SHA-256, the entries go through COPY
    (PostgreSQL) and the flags are written by one UPDATE joined to the entries just written.
    Every writer of `privacy_flags` holds the head lock, taken first here, so flags read by
    the caller inside this transaction after this call starts cannot change under it.
    `batches` may be a generator reading the database between batches.

    Effects: consent_ledger rows, contacts.privacy_flags and updated_at, ledger_head.
    """
    if method in OWN_CHOICE_METHODS:
        raise ValueError(f"{method} decisions go through apply_decisions")
    seq, prev_hash = read_head(tx, for_update=True)
    start = seq
    digest = batch_hasher(list_id=list_id, method=method, at=at, actor=actor)
    postgres = tx.dialect.name == "postgresql"
    lost: list[tuple[int, int | None, int, int]] = []
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
            entry_digest = digest(
                seq, cid, email, evidence_json, before, after, granted, revoked, prev_hash
            )
            chained.append(
                (seq, cid, email, before, after, granted, revoked, evidence_json, prev_hash,
                 entry_digest)
            )  # fmt: skip
            prev_hash = entry_digest
            if not after & OPEN_TRACKING_BIT and ((before or 0) | revoked) & OPEN_TRACKING_BIT:
                lost.append((cid, before, after, revoked))
        if postgres:
            copy_chained(tx, chained, list_id=list_id, at=at, method=method, actor=actor)
        else:
            tx.execute(
                consent_ledger.insert(),
                [
                    {
                        "seq": e_seq,
                        "contact_id": cid,
                        "list_id": list_id,
                        "email": email,
                        "at": at,
                        "method": method,
                        "granted": granted,
                        "revoked": revoked,
                        "flags_before": before,
                        "flags_after": after,
                        "actor": actor,
                        "notice_id": None,
                        "notice_sha256": None,
                        "evidence": json.loads(evidence_json),
                        "prev_hash": prev,
                        "hash": e_hash,
                    }
                    for (
                        e_seq, cid, email, before, after, granted, revoked, evidence_json, prev,
                        e_hash,
                    ) in chained
                ],
            )  # fmt: skip
        seen += len(changes)
        if progress:
            progress(seen)
    if seq == start:
        return ChangesWritten(0, [], skipped)
    _flags_from_entries(tx, after=start, upto=seq, at=at, cooldown_until=cooldown_until)
    tx.execute(ledger_head.update().where(ledger_head.c.id == 1).values(seq=seq, hash=prev_hash))
    return ChangesWritten(seq - start, lost, skipped)


def _grant_targets(
    tx: Tx, list_id: int, *, bit: int, only_null: bool, batch: int
) -> Iterator[list[tuple[int, str, int | None]]]:
    """(id, email, flags) of the contacts a grant of `bit` changes, in id order, in batches.

    PostgreSQL streams them from one server-side cursor (one scan of the list); the caller
    may run other statements between batches.
    """
    if tx.dialect.name != "postgresql":
        for found in iter_flag_targets(
            tx, list_id, bit=bit, grant=True, only_null=only_null, batch=batch
        ):
            yield [(row.id, row.email, row.privacy_flags) for row in found]
        return
    with raw(tx).cursor(name="grant_targets") as cursor:
        cursor.itersize = batch
        cursor.execute(
            "SELECT id, email, privacy_flags FROM contacts WHERE list_id = %(list)s "
            "AND privacy_flags IS NULL ORDER BY id"
            if only_null
            else "SELECT id, email, privacy_flags FROM contacts WHERE list_id = %(list)s "
            "AND (privacy_flags IS NULL OR privacy_flags & %(bit)s = 0) "
            "AND refused_flags & %(bit)s = 0 ORDER BY id",
            {"list": list_id, "bit": bit},
        )
        while rows := cursor.fetchmany(batch):
            yield rows


def _flags_from_entries(
    tx: Tx, *, after: int, upto: int, at: datetime, cooldown_until: datetime | None = None
) -> None:
    """Set each contact's flags to `flags_after` of its entry with seq in (after, upto]; one
    entry per contact in that range. With `cooldown_until`, the same statement starts the
    consent-request cool-down of every contact whose entry records a refusal: flags 0 (asked,
    nothing granted), or open tracking revoked (a million-row import then rewrites each row
    once, not twice)."""
    if tx.dialect.name == "postgresql":
        cooldown = (
            "consent_cooldown_until = CASE WHEN l.flags_after = 0 "
            "OR (l.revoked & 1 <> 0 AND l.flags_after & 1 = 0) THEN %(until)s "
            "ELSE contacts.consent_cooldown_until END, "
            if cooldown_until is not None
            else ""
        )
        with raw(tx).cursor() as cursor:
            cursor.execute(
                "UPDATE contacts SET privacy_flags = l.flags_after, "  # noqa: S608
                f"{cooldown}updated_at = %(at)s FROM consent_ledger AS l "
                "WHERE l.seq > %(after)s AND l.seq <= %(upto)s AND contacts.id = l.contact_id",
                {"at": at, "after": after, "upto": upto, "until": cooldown_until},
            )
        return
    in_range = sa.and_(consent_ledger.c.seq > after, consent_ledger.c.seq <= upto)
    flags_after = (
        sa.select(consent_ledger.c.flags_after)
        .where(in_range, consent_ledger.c.contact_id == contacts.c.id)
        .scalar_subquery()
    )
    values: dict[str, Any] = {"privacy_flags": flags_after, "updated_at": at}
    if cooldown_until is not None:
        refusal = (
            sa.select(consent_ledger.c.seq)
            .where(
                in_range,
                consent_ledger.c.contact_id == contacts.c.id,
                sa.or_(
                    consent_ledger.c.flags_after == 0,
                    sa.and_(
                        consent_ledger.c.revoked.op("&")(OPEN_TRACKING_BIT) != 0,
                        consent_ledger.c.flags_after.op("&")(OPEN_TRACKING_BIT) == 0,
                    ),
                ),
            )
            .exists()
        )
        values["consent_cooldown_until"] = sa.case(
            (refusal, cooldown_until), else_=contacts.c.consent_cooldown_until
        )
    tx.execute(
        contacts.update()
        .where(contacts.c.id.in_(sa.select(consent_ledger.c.contact_id).where(in_range)))
        .values(**values)
    )


def _row(entry: LedgerEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in COLUMNS}


def iter_entries(
    tx: Tx, *, batch: int = 10000, after: int = 0, upto: int | None = None
) -> Iterator[LedgerEntry]:
    """Every entry in stored seq order (those with `after` < seq <= `upto`), in batches."""
    last = after
    while True:
        query = sa.select(consent_ledger).where(consent_ledger.c.seq > last)
        if upto is not None:
            query = query.where(consent_ledger.c.seq <= upto)
        rows = tx.execute(query.order_by(consent_ledger.c.seq).limit(batch)).all()
        if not rows:
            return
        yield from (_entry(row) for row in rows)
        last = rows[-1].seq


def hash_at(tx: Tx, seq: int) -> str | None:
    """The stored hash of entry `seq` (None when there is no such entry)."""
    value = tx.execute(
        sa.select(consent_ledger.c.hash).where(consent_ledger.c.seq == seq)
    ).scalar_one_or_none()
    return None if value is None else str(value)


def last_seq(tx: Tx) -> int:
    """The seq of the last stored entry (0 when the ledger is empty), whatever the head says."""
    return int(
        tx.execute(sa.select(sa.func.coalesce(sa.func.max(consent_ledger.c.seq), 0))).scalar_one()
    )


def entries_for_contact(tx: Tx, contact_id: int) -> list[LedgerEntry]:
    """One contact's entries, oldest first."""
    rows = tx.execute(
        sa.select(consent_ledger)
        .where(consent_ledger.c.contact_id == contact_id)
        .order_by(consent_ledger.c.seq)
    )
    return [_entry(row) for row in rows]


def entry_before(tx: Tx, seq: int) -> LedgerEntry | None:
    """The entry just before `seq` in the chain (the link a proof needs to be checked)."""
    row = tx.execute(sa.select(consent_ledger).where(consent_ledger.c.seq == seq - 1)).first()
    return _entry(row) if row else None


def iter_changes_by_contact(tx: Tx) -> Generator[tuple[int, str, int, int], None, None]:
    """(contact id, method, granted, revoked) of every entry, by contact then seq, streamed
    from one server-side cursor (what `flags check` folds, merged with the contacts in id
    order)."""
    ledger = consent_ledger.c
    result = tx.execution_options(stream_results=True, yield_per=20000).execute(
        sa.select(ledger.contact_id, ledger.method, ledger.granted, ledger.revoked).order_by(
            ledger.contact_id, ledger.seq
        )
    )
    try:
        for row in result:
            yield int(row.contact_id), str(row.method), int(row.granted), int(row.revoked)
    finally:
        result.close()
