"""The two whole-store checks: `ledger verify` (the hash chain, R11) and `flags check`
(fold(ledger) == flags for every contact, R10). Both stream; neither loads the store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from itertools import chain as concat

from clearpixel.context import Context
from clearpixel.domain.flags import apply
from clearpixel.domain.ledger import ChainFault, ChainVerifier
from clearpixel.store.contacts import get_contact, iter_all_flags
from clearpixel.store.ledger import iter_changes_by_contact, iter_entries, read_head

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class LedgerReport:
    entries: int
    fault: ChainFault | None


def verify_ledger(ctx: Context, *, progress: Progress | None = None) -> LedgerReport:
    """Walk the chain from the genesis in seq order, then compare its end with the ledger
    head, which catches entries removed from the end. Returns the first fault, if any."""
    verifier = ChainVerifier()
    with ctx.db.connect() as conn:
        for entry in iter_entries(conn):
            fault = verifier.feed(entry)
            if fault:
                return LedgerReport(verifier.count, fault)
            if progress and verifier.count % 10000 == 0:
                progress(verifier.count)
        head_seq, head_hash = read_head(conn)
    last = verifier.expected_seq - 1
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
    return LedgerReport(verifier.count, None)


@dataclass(frozen=True, slots=True)
class FlagsMismatch:
    contact_id: int
    email: str
    stored: int | None
    folded: int | None

    def describe(self) -> str:
        if self.email:
            return (
                f"contact {self.contact_id} ({self.email}): privacy_flags is {self.stored}, "
                f"the ledger says {self.folded}"
            )
        return f"the ledger has entries for contact {self.contact_id}, which does not exist"


@dataclass(frozen=True, slots=True)
class FlagsReport:
    contacts: int
    mismatch: FlagsMismatch | None


def check_flags(ctx: Context, *, progress: Progress | None = None) -> FlagsReport:
    """fold(ledger) == privacy_flags for every contact, merging two streams ordered by
    contact id. A contact with NULL flags and no entry is consistent (never asked)."""
    checked = 0
    with ctx.db.connect() as conn, closing(iter_changes_by_contact(conn)) as stream:
        changes = _Peek(stream)
        for contact_id, stored in concat(iter_all_flags(conn), [(None, None)]):
            # Entries of contacts that do not exist (before this id, or after the last one).
            orphan = changes.next_id()
            if orphan is not None and (contact_id is None or orphan < contact_id):
                return FlagsReport(checked, FlagsMismatch(orphan, "", None, None))
            if contact_id is None:
                break
            folded: int | None = None
            while changes.next_id() == contact_id:
                _, granted, revoked = changes.pop()
                folded = apply(folded, granted=granted, revoked=revoked)
            if folded != stored:
                email = get_contact(conn, contact_id).email
                return FlagsReport(checked, FlagsMismatch(contact_id, email, stored, folded))
            checked += 1
            if progress and checked % 20000 == 0:
                progress(checked)
    return FlagsReport(checked, None)


class _Peek:
    def __init__(self, items: Iterator[tuple[int, int, int]]) -> None:
        self.items = items
        self.head = next(items, None)

    def next_id(self) -> int | None:
        return self.head[0] if self.head else None

    def pop(self) -> tuple[int, int, int]:
        assert self.head is not None
        item, self.head = self.head, next(self.items, None)
        return item
