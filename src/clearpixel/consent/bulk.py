"""Bulk consent changes: `flags grant|revoke` over a whole list, with a legal basis.

The bulk form of the platform's `UPDATE MY_USERLIST SET PRIVACY_FLAGS = PRIVACY_FLAGS | 1`,
done right: NULL-safe (`COALESCE(flags, 0) | bit`, R15), one ledger entry per contact that
changes, nothing written for contacts already in the target state, everything through
`record_decisions` (R10), in one transaction.

Which contacts a change touches:
- grant: every contact whose flags are NULL or lack the bit (NULL rows included), except
  those who refused or withdrew it themselves (R19), which the report counts;
- revoke: every contact whose flags hold the bit (NULL rows already lack it: untouched);
- `only_null` narrows either to contacts never asked (flags NULL). A revoke with `only_null`
  records a refusal for them: NULL becomes 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearpixel.consent.decisions import record_bulk_grant, record_decisions
from clearpixel.consent.writer import flags_transaction
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.ledger import Decision, Method
from clearpixel.domain.progress import Progress
from clearpixel.store.contact_search import count_contacts
from clearpixel.store.contacts import count_refusing, iter_flag_targets
from clearpixel.store.lists import get_list

BATCH = 20000

"""Called with (contacts looked at so far, contacts in the list)."""


@dataclass(frozen=True, slots=True)
class BulkReport:
    """What a bulk change did: `changed` contacts got a ledger entry, the others none."""

    purpose: str
    granted: bool
    contacts: int
    changed: int
    skipped_refused: int = 0  # not granted: the contact refused or withdrew it themselves

    @property
    def unchanged(self) -> int:
        return self.contacts - self.changed - self.skipped_refused


def bulk_change(
    ctx: Context,
    *,
    list_name: str,
    purpose: str,
    grant: bool,
    basis: str,
    only_null: bool = False,
    actor: str = "",
    progress: Progress | None = None,
) -> BulkReport:
    """Grant (or revoke) `purpose` for the contacts of `list_name`; see the module docstring.

    Effects: one ledger entry (method `bulk`, evidence `{"basis": basis}`) and new flags per
    changed contact; a revoke of open tracking also forgets stored personal events and
    starts the consent-request cool-down (as every withdrawal does). Raises ClearpixelError
    for a missing basis, an unknown list or purpose; then nothing is written.
    """
    basis = basis.strip()
    if not basis:
        raise ClearpixelError(
            "a bulk consent change needs a legal basis: --basis TEXT (what the change rests on)"
        )
    bit = ctx.purposes.bit(purpose)
    evidence = {"basis": basis}
    changed = skipped = 0
    with flags_transaction(ctx.db) as tx:  # no other flags writer until this change commits
        target = get_list(tx, list_name)
        total = count_contacts(tx, target.id)
        now = ctx.now()
        if grant:
            skipped = 0 if only_null else count_refusing(tx, target.id, bit)
            changed = record_bulk_grant(
                tx,
                target.id,
                bit=bit,
                only_null=only_null,
                now=now,
                actor=actor,
                evidence=evidence,
                progress=(lambda done: progress(done, total)) if progress else None,
            )
            seen = total
        else:
            seen = 0
        # A revoke can withdraw consent (events forgotten, cool-down started): decision by
        # decision through record_decisions, in batches.
        for batch in (
            []
            if grant
            else iter_flag_targets(
                tx, target.id, bit=bit, grant=False, only_null=only_null, batch=BATCH
            )
        ):
            decisions = [
                Decision(
                    contact_id=row.id,
                    list_id=target.id,
                    email=row.email,
                    granted=bit if grant else 0,
                    revoked=0 if grant else bit,
                    method=Method.BULK,
                    at=now,
                    actor=actor,
                    evidence=evidence,
                )
                for row in batch
            ]
            result = record_decisions(tx, decisions, cooldown=ctx.cooldown, keep_unchanged=False)
            changed += len(result.entries)
            seen += len(batch)
            if progress:
                progress(seen, total)
    if progress:
        progress(total, total)
    return BulkReport(purpose, grant, total, changed, skipped)
