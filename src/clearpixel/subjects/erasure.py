"""Right to erasure: everything held on one address, in every list, removed; the proof of
consent stays verifiable.

`erase_subject` is the one service the CLI (`subject erase`), the API (`POST
/subjects/erase`) and the admin UI call. In one transaction that holds the ledger head lock:

1. each of the person's contacts gets an `erasure` ledger entry (who, when, why; flags
   cleared; no address, no evidence beyond the reason), through the one consent writer, so
   `flags check` folds to the contact's last state and the withdrawal effects apply;
2. the openings of the person's earlier entries (address, evidence, salt) are deleted; their
   commitments stay in the chain, so `ledger verify` passes and counts them as erased;
3. personal events, the personal fields of sends and bounce events, pending signups,
   suppression entries, webhook deliveries carrying the address, and the contacts
   themselves (memberships, attributes) are deleted;
4. a keyed hash of the address (`domain.erasure.erased_key`) goes on the suppression list
   with the time and reason, so an import refuses the address and the proof of consent can
   say it was erased and when, without the address being kept.

Outbox files (`.eml` written by the outbox transport into the data folder's `outbox/`)
that name the person are deleted too: they are the installation's copies of mail it wrote.
An outbox folder given elsewhere with `campaign send --outbox DIR` is the operator's to clean.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from clearpixel.audience.emails import normalise_email
from clearpixel.consent.decisions import flags_transaction, record_decisions
from clearpixel.context import Context
from clearpixel.domain.erasure import REASON, erased_key, erased_keys
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.ledger import Decision, Method
from clearpixel.store.subjects import contacts_with_address, erase_personal_data, erasure_record
from clearpixel.store.suppression import suppress
from clearpixel.subjects.access import UnknownSubject


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What an erasure did."""

    lists: list[str]
    at: datetime
    ledger_entries: list[int]  # the seq of each erasure entry
    removed: dict[str, int]
    outbox_files: int
    suppressed: bool  # the keyed hash went on the suppression list

    def lines(self) -> list[str]:
        """The report as people read it."""
        removed = ", ".join(f"{n} {table}" for table, n in self.removed.items() if n)
        return [
            f"erased from {len(self.lists)} list(s): {', '.join(self.lists) or 'none'}",
            f"ledger: erasure entries {', '.join(map(str, self.ledger_entries)) or 'none'}; "
            "the address and evidence of the earlier entries were deleted, their commitments "
            "stay chained (`ledger verify` still passes)",
            f"removed: {removed or 'nothing else was held'}"
            + (f"; {self.outbox_files} outbox file(s)" if self.outbox_files else ""),
            "a keyed hash of the address (not the address) stays on the suppression list, "
            "so a later import will not bring this person back",
        ]


def erase_subject(ctx: Context, email: str, *, reason: str, actor: str) -> ErasureReport:
    """Erase `email` from every list; see the module docstring for what goes and stays.

    An address held only on the suppression list or in bounce records is erased from those.
    Raises InvalidEmail for a malformed address, ClearpixelError without a reason, and
    UnknownSubject, storing nothing, when nothing is held on the address (saying so when it
    was already erased).
    """
    address = normalise_email(email)
    reason = reason.replace("\x00", "").strip()[:500]
    if not reason:
        raise ClearpixelError("say why the address is erased: --reason TEXT")
    actor = actor.strip() or "unknown"
    with flags_transaction(ctx.db) as tx:
        found = contacts_with_address(tx, address)
        now = ctx.now()
        decisions = [
            Decision(
                contact_id=contact.id,
                list_id=contact.list_id,
                email="",
                granted=0,
                revoked=ctx.purposes.all_bits | (contact.privacy_flags or 0),
                method=Method.ERASURE,
                at=now,
                actor=actor,
                evidence={"reason": reason},
            )
            for _, contact in found
        ]
        result = record_decisions(tx, decisions, cooldown=ctx.cooldown, keep_unchanged=True)
        seqs = [entry.seq for entry in result.entries]
        removed = erase_personal_data(
            tx, [contact.id for _, contact in found], address, keep_openings=seqs
        )
        if not found and not any(removed.values()):  # held nowhere: nothing was written
            earlier = erasure_record(tx, erased_keys(ctx.settings.secret_keys, address))
            if earlier:
                raise UnknownSubject(
                    f"{address!r} was already erased on {earlier[0]:%Y-%m-%d}; nothing is held"
                )
            raise UnknownSubject(f"no list holds {address!r}: nothing to erase")
        key = erased_key(ctx.settings.secret_keys[0], address)
        added = suppress(
            tx,
            [key],
            reason=REASON,
            actor=actor,
            evidence={"ledger": seqs},  # the reason is in the ledger, whose window applies
            now=now,
        )
    files = _erase_outbox(ctx.settings.data_dir / "outbox", address)
    return ErasureReport([name for name, _ in found], now, seqs, removed, files, bool(added))


def _erase_outbox(folder: Path, address: str) -> int:
    """Delete the outbox's .eml files that name `address`; returns how many."""
    if not folder.is_dir():
        return 0
    needle = address.encode()
    gone = 0
    for path in folder.rglob("*.eml"):
        try:
            if needle in path.read_bytes().lower():
                path.unlink()
                gone += 1
        except OSError:
            continue
    return gone
