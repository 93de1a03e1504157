"""A list's contacts filtered by subscription status and by consent state for one purpose
(never asked, refused, granted), in pages, for the admin's list page.

A purpose's state is decided by one function (`consent.history.purpose_states`): granted
when the bit is set; otherwise refused or never asked depending on the contact's ledger.
The store narrows by what the flags alone say (bit set, or not), and the state of each
remaining candidate is then taken from that one function, so the filter never disagrees
with what the contact's page shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clearpixel.consent.history import PurposeState, contact_states
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.store import contact_search
from clearpixel.store.contacts import Contact
from clearpixel.store.lists import get_list_by_id

STATUSES = ("subscribed", "unsubscribed")
SCAN_PAGES = 20  # candidate pages read for one page of a state the flags alone cannot tell


@dataclass(frozen=True, slots=True)
class ContactFilter:
    search: str = ""
    status: str | None = None
    purpose: str | None = None
    state: PurposeState | None = None


@dataclass(frozen=True, slots=True)
class FilteredPage:
    """Matching contacts, the cursor of the next page (None at the end) and the number of
    matches when it is known exactly (None when counting would read every contact's
    ledger)."""

    contacts: list[Contact]
    next_after: int | None
    total: int | None


def parse_filter(
    ctx: Context, *, search: str, status: str, purpose: str, state: str
) -> ContactFilter:
    """A filter from a form's values ('' for "any"); raises ClearpixelError naming a value
    that is not one."""
    if status and status not in STATUSES:
        raise ClearpixelError(f"unknown status {status!r} (known: {', '.join(STATUSES)})")
    chosen = None
    if state:
        try:
            chosen = PurposeState(state)
        except ValueError:
            known = ", ".join(s.value for s in PurposeState)
            raise ClearpixelError(f"unknown consent state {state!r} (known: {known})") from None
        if not purpose:
            raise ClearpixelError("choose the purpose whose consent state to filter by")
        ctx.purposes.bit(purpose)  # raises for an unknown purpose
    return ContactFilter(search, status or None, purpose or None, chosen)


def filtered_page(
    ctx: Context, list_id: int, wanted: ContactFilter, *, after: int = 0, limit: int = 50
) -> FilteredPage:
    """One page of the list's contacts matching `wanted`, in id order after `after`."""
    bit = ctx.purposes.bit(wanted.purpose) if wanted.purpose and wanted.state else None
    bit_set = None if bit is None else wanted.state is PurposeState.GRANTED
    narrow: dict[str, Any] = {
        "search": wanted.search,
        "status": wanted.status,
        "bit": bit,
        "bit_set": bit_set,
    }
    with ctx.db.connect() as conn:
        get_list_by_id(conn, list_id)
        if bit is None or bit_set:
            found = contact_search.contacts_page(conn, list_id, after=after, limit=limit, **narrow)
            total = contact_search.count_contacts(conn, list_id, **narrow)
            return FilteredPage(found, found[-1].id if len(found) == limit else None, total)
        matches: list[Contact] = []
        cursor = after
        for _ in range(SCAN_PAGES):
            batch = contact_search.contacts_page(conn, list_id, after=cursor, limit=limit, **narrow)
            for contact in batch:
                cursor = contact.id
                states = {v.name: v.state for v in contact_states(conn, contact, ctx.purposes)}
                if states[str(wanted.purpose)] is wanted.state:
                    matches.append(contact)
                    if len(matches) == limit:
                        return FilteredPage(matches, cursor, None)
            if len(batch) < limit:
                return FilteredPage(matches, None, None)
        return FilteredPage(matches, cursor, None)
