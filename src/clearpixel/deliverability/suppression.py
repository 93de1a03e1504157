"""The suppression list as a service: who may not be mailed, added and removed with an actor
and a reason (logged), exported, and announced to webhooks (`address.suppressed`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from clearpixel.context import Context
from clearpixel.domain.bounces import SuppressionReason, normalise_address
from clearpixel.domain.errors import ClearpixelError, NotFound
from clearpixel.domain.spreadsheet import safe_row
from clearpixel.domain.webhooks import EventType
from clearpixel.store import Tx
from clearpixel.store import suppression as store
from clearpixel.store import webhooks as webhook_store
from clearpixel.store.suppression import Suppression

EXPORT_COLUMNS = ("address", "reason", "since", "actor", "evidence")


class NotSuppressed(NotFound):
    """The address is not on the suppression list."""


def reason_of(text: str) -> SuppressionReason:
    try:
        return SuppressionReason(text.strip())
    except ValueError:
        known = ", ".join(r.value for r in SuppressionReason)
        raise ClearpixelError(f"unknown suppression reason {text!r} (known: {known})") from None


def checked_address(email: str) -> str:
    address = normalise_address(email)
    local, _, host = address.rpartition("@")
    if not local or "." not in host or any(c.isspace() for c in address) or len(address) > 320:
        raise ClearpixelError(f"{email!r} is not an email address")
    return address


def suppress_in(
    tx: Tx,
    emails: Sequence[str],
    *,
    reason: SuppressionReason,
    actor: str,
    evidence: dict[str, Any],
    now: datetime,
) -> list[str]:
    """Inside the caller's transaction: list the addresses (those already listed keep their
    first reason), log each, and queue an `address.suppressed` event for each new one."""
    added = store.suppress(
        tx,
        [normalise_address(e) for e in emails],
        reason=reason.value,
        actor=actor,
        evidence=evidence,
        now=now,
    )
    endpoints = webhook_store.active_endpoints(tx) if added else []
    for address in added:
        webhook_store.enqueue(
            tx,
            EventType.SUPPRESSED,
            {"address": address, "reason": reason.value, "actor": actor, "evidence": evidence},
            now=now,
            only=endpoints,
        )
    return added


def add(ctx: Context, email: str, *, reason: str, actor: str, note: str = "") -> bool:
    """Suppress one address by hand; False when it was already listed (its reason stays)."""
    address = checked_address(email)
    why = reason_of(reason)
    evidence = {"note": note} if note else {}
    with ctx.db.begin() as tx:
        return bool(
            suppress_in(tx, [address], reason=why, actor=actor, evidence=evidence, now=ctx.now())
        )


def remove(ctx: Context, email: str, *, actor: str, reason: str) -> None:
    """Take an address off the list; the removal is logged with its actor and reason.
    Raises NotSuppressed when it was not listed."""
    if not reason.strip():
        raise ClearpixelError("say why the address is taken off the suppression list (--reason)")
    address = normalise_address(email)
    with ctx.db.begin() as tx:
        if not store.unsuppress(tx, address, reason=reason.strip(), actor=actor, now=ctx.now()):
            raise NotSuppressed(f"{email!r} is not on the suppression list")


def listing(
    ctx: Context, *, reason: str | None = None, after: str = "", limit: int = 100
) -> list[Suppression]:
    with ctx.db.connect() as conn:
        return store.list_suppressions(
            conn, reason=reason_of(reason).value if reason else None, after=after, limit=limit
        )


def lookup(ctx: Context, email: str) -> Suppression | None:
    with ctx.db.connect() as conn:
        return store.get_suppression(conn, normalise_address(email))


def history(ctx: Context, email: str) -> list[store.LogEntry]:
    with ctx.db.connect() as conn:
        return store.log_for(conn, normalise_address(email))


def export_csv(ctx: Context, *, reason: str | None = None) -> Iterator[str]:
    """The whole list (or one reason's part) as CSV text, streamed (header first), no cell
    left for a spreadsheet to read as a formula (`domain.spreadsheet`). A bad reason raises
    here, before anything is streamed."""
    wanted = reason_of(reason).value if reason else None
    return _csv_chunks(ctx, wanted)


def _csv_chunks(ctx: Context, wanted: str | None) -> Iterator[str]:
    import json

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    with ctx.db.connect() as conn:
        for s in store.iter_suppressions(conn):
            if wanted and s.reason != wanted:
                continue
            writer.writerow(
                safe_row(
                    [s.address, s.reason, s.since.isoformat(), s.actor, json.dumps(s.evidence)]
                )
            )
            if buffer.tell() > 65536:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def suppressed_among(ctx: Context, emails: Iterable[str]) -> set[str]:
    """The normalised addresses among `emails` that are on the list."""
    with ctx.db.connect() as conn:
        return store.suppressed_among(conn, (normalise_address(e) for e in emails))
