"""The two whole-store checks: `ledger verify` (the hash chain, R11, against the signed
checkpoints kept outside the database, R21) and `flags check` (fold(ledger) == flags for
every contact, R10, and the contact's own refusals, R19, equal to what its own decisions in
the ledger say). Both stream; neither loads the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from itertools import chain as concat

from clearpixel.consent.checkpoints import Found, compare_stored, current_checkpoints
from clearpixel.context import Context
from clearpixel.domain.checkpoints import contradiction
from clearpixel.domain.flags import apply
from clearpixel.domain.ledger import Method
from clearpixel.domain.ledger_chain import ChainFault, ChainVerifier
from clearpixel.domain.ledger_effects import refused_after
from clearpixel.domain.progress import RunningCount
from clearpixel.store.contacts import get_contact, iter_all_consent
from clearpixel.store.ledger import iter_changes_by_contact, iter_entries, origin, read_head
from clearpixel.store.roles import separate_owner


@dataclass(frozen=True, slots=True)
class LedgerReport:
    entries: int
    fault: ChainFault | None
    checkpoints: int = 0
    erased: int = 0  # entries whose personal fields were erased (their commitment remains)
    # the former chain's head (seq, hash, when re-chained) when the ledger was re-chained
    origin: tuple[int, str, datetime] | None = None
    former_checkpoints: int = 0  # checkpoints of the former chain (its head's one checked)

    def notes(self) -> list[str]:
        """What a reader of a sound chain should know: erased entries, and where a
        re-chained ledger comes from."""
        lines = []
        if self.erased:
            lines.append(
                f"{self.erased} entries belong to erased people: their address and evidence "
                "were deleted; each entry's commitment to them is still chained and checked"
            )
        if self.origin:
            seq, digest, at = self.origin
            lines.append(
                f"the ledger was re-chained on {at:%Y-%m-%d} so entries commit to personal "
                f"data instead of hashing it in clear; entry 1 continues from the former "
                f"chain's head (entry {seq}, hash {digest})"
                + (
                    f"; {self.former_checkpoints} checkpoint(s) of the former chain (the one "
                    "of its head, if any, agrees)"
                    if self.former_checkpoints
                    else ""
                )
            )
        return lines


def verify_ledger(
    ctx: Context, *, checkpoints: list[Found] | None = None, progress: RunningCount | None = None
) -> LedgerReport:
    """Walk the chain from the genesis in seq order, recomputing every hash, and compare it
    with each signed checkpoint as it passes the checkpoint's seq; then compare its end with
    the ledger head and with the checkpoints beyond it. Returns the first fault, if any: a
    checkpoint contradicts a chain rewritten with recomputed hashes, or truncated with the
    head rolled back, which the chain alone cannot show. A checkpoint file that cannot be
    read or whose signature does not hold is a fault too (seq 0)."""
    with ctx.db.connect() as conn:
        start = origin(conn)
        found, former, problem = current_checkpoints(conn, checkpoints or [])
    if problem:
        return LedgerReport(0, ChainFault(0, problem), origin=start)
    by_seq: dict[int, list[Found]] = {}
    for item in found:
        assert item.checkpoint is not None
        by_seq.setdefault(item.checkpoint.seq, []).append(item)
    verifier = ChainVerifier(origin_hash=start[1] if start else None)
    with ctx.db.connect() as conn:
        for entry in iter_entries(conn):
            fault = verifier.feed(entry)
            if fault:
                return LedgerReport(verifier.count, fault)
            for item in by_seq.get(entry.seq, ()):
                assert item.checkpoint is not None
                problem = contradiction(
                    item.checkpoint, chain_end=entry.seq, hash_at_seq=entry.hash
                )
                if problem:
                    return LedgerReport(verifier.count, ChainFault(entry.seq, problem))
            if progress and verifier.count % 10000 == 0:
                progress(verifier.count)
        head_seq, head_hash = read_head(conn)
    last = verifier.expected_seq - 1
    beyond = [i.checkpoint for i in found if i.checkpoint and i.checkpoint.seq > last]
    if beyond:
        latest = max(beyond, key=lambda c: c.seq)
        problem = contradiction(latest, chain_end=last, hash_at_seq=None)
        return LedgerReport(verifier.count, ChainFault(last + 1, problem))
    if head_seq > last:
        fault = ChainFault(
            last + 1,
            f"entries {last + 1} to {head_seq} are missing: the ledger head says the chain "
            f"ends at {head_seq}",
        )
        return LedgerReport(verifier.count, fault)
    if head_seq != last or head_hash != verifier.prev_hash:
        fault = ChainFault(last, f"the ledger head (seq {head_seq}) does not match entry {last}")
        return LedgerReport(verifier.count, fault)
    return LedgerReport(verifier.count, None, len(found), verifier.erased, start, former)


@dataclass(frozen=True, slots=True)
class FlagsMismatch:
    contact_id: int
    email: str
    stored: int | None
    folded: int | None
    column: str = "privacy_flags"

    def describe(self) -> str:
        if self.email:
            return (
                f"contact {self.contact_id} ({self.email}): {self.column} is {self.stored}, "
                f"the ledger says {self.folded}"
            )
        return (
            f"the ledger has entries for contact {self.contact_id}, which does not exist "
            "and was not erased"
        )


@dataclass(frozen=True, slots=True)
class FlagsReport:
    contacts: int
    mismatch: FlagsMismatch | None
    checkpoint_problem: str = ""


def check_flags(
    ctx: Context, *, checkpoints: list[Found] | None = None, progress: RunningCount | None = None
) -> FlagsReport:
    """fold(ledger) == privacy_flags for every contact, merging two streams ordered by
    contact id. A contact with NULL flags and no entry is consistent (never asked). First,
    the ledger the flags are folded from is compared with the signed checkpoints (its end
    and its stored hash at each checkpoint): flags that match a rewritten ledger prove
    nothing, so a contradiction is reported instead of "fold == flags". Entries of a
    contact that no longer exists are sound only when its last one is its erasure."""
    checked = 0
    with ctx.db.connect() as conn:
        problem = compare_stored(conn, checkpoints or [])
    if problem:
        return FlagsReport(0, None, problem)
    with ctx.db.connect() as conn, closing(iter_changes_by_contact(conn)) as stream:
        changes = _Peek(stream)
        for contact_id, stored, refusals in concat(iter_all_consent(conn), [(None, None, 0)]):
            # Entries of contacts that do not exist (before this id, or after the last one):
            # sound only for an erased contact, whose last entry is its erasure.
            orphan = changes.next_id()
            while orphan is not None and (contact_id is None or orphan < contact_id):
                last = ""
                while changes.next_id() == orphan:
                    last = changes.pop()[1]
                if last != Method.ERASURE:
                    return FlagsReport(checked, FlagsMismatch(orphan, "", None, None))
                orphan = changes.next_id()
            if contact_id is None:
                break
            folded: int | None = None
            refused = 0
            while changes.next_id() == contact_id:
                _, method, granted, revoked = changes.pop()
                folded = apply(folded, granted=granted, revoked=revoked)
                refused = refused_after(method, refused, granted=granted, revoked=revoked)
            if folded != stored or refused != refusals:
                email = get_contact(conn, contact_id).email
                mismatch = (
                    FlagsMismatch(contact_id, email, stored, folded)
                    if folded != stored
                    else FlagsMismatch(contact_id, email, refusals, refused, "refused_flags")
                )
                return FlagsReport(checked, mismatch)
            checked += 1
            if progress and checked % 20000 == 0:
                progress(checked)
    return FlagsReport(checked, None)


class _Peek:
    def __init__(self, items: Iterator[tuple[int, str, int, int]]) -> None:
        self.items = items
        self.head = next(items, None)

    def next_id(self) -> int | None:
        return self.head[0] if self.head else None

    def pop(self) -> tuple[int, str, int, int]:
        assert self.head is not None
        item, self.head = self.head, next(self.items, None)
        return item


def protect_ledger(ctx: Context, *, owner: str, app: str) -> list[str]:
    """Hand the schema to the PostgreSQL role `owner` and grant the application's role
    `app` only what it needs, so the application cannot drop the ledger's triggers (see
    store/roles.py). Returns the tables handed over."""
    with ctx.db.begin() as tx:
        return separate_owner(tx, owner=owner, app=app)
