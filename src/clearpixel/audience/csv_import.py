"""`contacts import`: a CSV file into a list, every flags change through the consent ledger.

The file is streamed, never loaded, and everything happens inside ONE transaction, so a
failed import (bad rows, a refused file, a database error) stores nothing. On PostgreSQL one
pass checks every row, hashes the file and COPYs the good rows into a staging table;
set-based statements then write the contacts and only the flags changes are chained into the
ledger. On SQLite a first pass checks and hashes, a second applies in batches (and refuses a
file that changed between the passes). Reading is `csv_parse.py`, judging the whole file (and
the one refusal rule both engines follow) `csv_check.py`, applying it this module.

Columns: `email` (required), `privacy_flags` (optional; empty = no value), `status`
(optional: `subscribed` or `unsubscribed`), any other column is an attribute (`locale` too).

Flags modes, for a row whose `privacy_flags` cell holds a value V:
- `merge` (default): flags become COALESCE(flags, 0) | V. Never clears a bit; a NULL
  contact with V = 0 becomes 0 (the file says it was asked and granted nothing).
- `replace`: flags become exactly V.
- `ignore`: flags are left alone; the column is not even read.
An EMPTY cell means "the file has no value": in every mode the contact's flags stay as they
are (NULL stays NULL, a stored value is kept). A ledger entry cannot set flags back to NULL,
and clearing recorded consent because a column was blank would lose proof; to record a
refusal, write 0 in replace mode.

Other cells: a non-empty attribute cell sets that attribute, an empty one leaves it. A
`status` of `unsubscribed` unsubscribes an existing contact; import never re-subscribes one.

Every flags change is a ledger entry (method `import`) whose evidence holds the legal basis,
the SHA-256 of the whole file, its name and the row's line. A file that would grant any
consent (a non-zero value in merge or replace mode) is refused without `basis`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clearpixel.audience.csv_check import Check, RowError, refuse
from clearpixel.audience.csv_parse import FlagsMode, ImportRefused, Pass, Row
from clearpixel.consent import record_decisions
from clearpixel.consent.decisions import Change, flags_transaction, record_changes
from clearpixel.context import Context
from clearpixel.domain.erasure import PREFIX
from clearpixel.domain.errors import N_, Message
from clearpixel.domain.ledger import Decision, Method
from clearpixel.domain.ledger_chain import encode_evidence
from clearpixel.domain.progress import PhasedProgress
from clearpixel.store.contact_search import count_contacts
from clearpixel.store.contacts import (
    SUBSCRIBED,
    UNSUBSCRIBED,
    NewContact,
    contacts_by_email,
    insert_contacts_many,
    update_contacts_many,
)
from clearpixel.store.imports import (
    StagedRow,
    drop_staged_lines,
    insert_new_from_staging,
    iter_staged_flag_changes,
    stage_rows,
    update_existing_from_staging,
)
from clearpixel.store.lists import get_list
from clearpixel.store.subjects import erased_keys

__all__ = ["FlagsMode", "ImportRefused", "ImportReport", "RowError", "import_csv"]

BATCH = 5000

"""Called with (phase, done, total): phase `checking` counts bytes, `importing` rows."""


@dataclass
class ImportReport:
    """What an import did (or, when refused, found)."""

    source_sha256: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    flags_changed: int = 0
    skipped_refused: int = 0  # rows whose consent was not granted: the contact refused it
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)

    def checked(self, check: Check, sha256: str) -> None:
        """What the checking pass found."""
        self.source_sha256 = sha256
        self.rows, self.rejected, self.errors = check.rows, check.bad, check.errors


def import_csv(
    ctx: Context,
    path: Path,
    *,
    list_name: str,
    flags_mode: FlagsMode = FlagsMode.MERGE,
    basis: str | None = None,
    skip_invalid: bool = False,
    rejected_path: Path | None = None,
    progress: PhasedProgress | None = None,
    file_name: str = "",
) -> ImportReport:
    """Import `path` into the list `list_name`; see the module docstring for the rules.
    `file_name`: the name people know the file by (an upload kept under another), used in
    messages and the ledger's evidence; the path's own name when empty.

    Effects (all in one transaction, or none): contacts inserted or updated, one ledger entry
    per flags change (method `import`). Raises ImportRefused, naming bad rows by line, when
    the file has bad rows and `skip_invalid` is off, or grants consent without `basis`.
    With `skip_invalid`, bad rows are left out and written, with a `reason` column, to
    `rejected_path` when given.
    """
    if not path.is_file():
        raise ImportRefused(f"no such file: {path}")
    basis = (basis or "").strip() or None
    with ctx.db.connect() as conn:
        target = get_list(conn, list_name)
        target.check_open()
        erased = frozenset(erased_keys(conn, PREFIX))
    name = file_name or path.name
    if ctx.db.is_postgres:
        return _import_staged(
            ctx,
            path,
            target.id,
            flags_mode,
            basis,
            skip_invalid,
            rejected_path,
            progress,
            erased,
            name,
        )
    size = path.stat().st_size
    report = ImportReport()

    # Pass 1: check every row, hash the file, find duplicate emails (8 bytes per row).
    check = _check(ctx, path, flags_mode, erased, name)
    checking = Pass(path, ctx.purposes, flags_mode, name=name)
    for line, _fields, row in checking.records():
        check.see(line, row)
        if progress and check.rows % 5000 == 0:
            progress("checking", checking.bytes_read, size)
    if progress:
        progress("checking", size, size)
    check.finish()
    report.checked(check, checking.sha256)
    refuse(check, basis=basis, skip_invalid=skip_invalid, rejected=rejected_path)

    # Pass 2: apply the good rows in batches, in one transaction.
    applying = Pass(path, ctx.purposes, flags_mode, name=name)
    evidence_base = {
        "basis": basis,
        "source_sha256": report.source_sha256,
        "source_file": name,
    }
    good_rows = check.rows - check.bad
    done = 0
    with flags_transaction(ctx.db) as tx:  # flags of this list cannot change under the import
        # Into an empty list every row is new (the file has no duplicates): no lookups.
        fresh = count_contacts(tx, target.id) == 0
        pending: list[Row] = []
        for line, _fields, row in applying.records():
            if isinstance(row, Message) or check.left_out(line):
                continue
            pending.append(row)
            if len(pending) >= BATCH:
                _apply_batch(ctx, tx, target.id, pending, flags_mode, evidence_base, report, fresh)
                done += len(pending)
                pending = []
                if progress:
                    progress("importing", done, good_rows)
        _apply_batch(ctx, tx, target.id, pending, flags_mode, evidence_base, report, fresh)
        if applying.sha256 != report.source_sha256:
            raise ImportRefused(
                N_("%(name)s changed during the import; nothing was imported"), name=name
            )
    if progress:
        progress("importing", good_rows, good_rows)
    return report


def _check(ctx: Context, path: Path, mode: FlagsMode, erased: frozenset[str], name: str) -> Check:
    """A checking pass that also refuses the addresses erased earlier (by their keyed hash)."""
    secrets = tuple(ctx.settings.secret_keys)
    return Check(path, ctx.purposes, mode, name, erased=erased, secrets=secrets)


def _import_staged(
    ctx: Context,
    path: Path,
    list_id: int,
    flags_mode: FlagsMode,
    basis: str | None,
    skip_invalid: bool,
    rejected_path: Path | None,
    progress: PhasedProgress | None,
    erased: frozenset[str],
    name: str,
) -> ImportReport:
    """The PostgreSQL path: ONE streaming pass checks each row, hashes the file and COPYs the
    good rows into a staging table; set-based statements then update and insert the contacts
    and find the flags that change, and only those are chained (in line order) and COPYed
    into the ledger. All in one transaction: any refusal or error stores nothing."""
    size = path.stat().st_size
    report = ImportReport()
    check = _check(ctx, path, flags_mode, erased, name)
    checking = Pass(path, ctx.purposes, flags_mode, name=name)

    def good_rows() -> Iterator[StagedRow]:
        for line, _fields, row in checking.records():
            good = check.see(line, row)
            if progress and check.rows % 5000 == 0:
                progress("checking", checking.bytes_read, size)
            if good and not isinstance(row, Message):
                yield (line, row.email, row.flags, _attributes_json(row.attributes), row.status)

    with flags_transaction(ctx.db) as tx:  # flags of this list cannot change under the import
        stage_rows(tx, good_rows())
        if progress:
            progress("checking", size, size)
        check.finish()
        report.checked(check, checking.sha256)
        refuse(check, basis=basis, skip_invalid=skip_invalid, rejected=rejected_path)
        drop_staged_lines(tx, sorted(check.duplicates))

        now = ctx.now()
        good = check.rows - check.bad
        if progress:
            progress("importing", 0, good)
        report.updated = update_existing_from_staging(tx, list_id, now=now)
        report.created = insert_new_from_staging(tx, list_id, now=now)
        if flags_mode is not FlagsMode.IGNORE:
            written = record_changes(
                tx,
                _flag_changes(tx, list_id, flags_mode, basis, report.source_sha256, name),
                list_id=list_id,
                method=Method.IMPORT,
                now=now,
                cooldown=ctx.cooldown,
            )
            report.flags_changed = written.entries
            report.skipped_refused = written.skipped_refused
    if progress:
        progress("importing", good, good)
    return report


def _attributes_json(attributes: dict[str, str]) -> str:
    """The attributes (text to text) as compact JSON, as json.dumps(ensure_ascii=False) writes
    them, with the C string encoder directly."""
    string = _json_string
    return "{" + ",".join(f"{string(k)}:{string(v)}" for k, v in attributes.items()) + "}"


_json_string = json.encoder.encode_basestring


# A line number no file has: where the evidence template gets each row's line.
_LINE_SENTINEL = -7_000_000_001


def _flag_changes(
    tx: Any, list_id: int, mode: FlagsMode, basis: str | None, sha256: str, file_name: str
) -> Iterator[list[Change]]:
    """The staged rows' flags changes as ledger changes, with the evidence of each row
    (basis, file SHA-256 and name, line) encoded from one template."""
    template = encode_evidence(
        {"basis": basis, "source_sha256": sha256, "source_file": file_name, "line": _LINE_SENTINEL}
    )
    head, tail = template.split(f'"line":{_LINE_SENTINEL}')
    head += '"line":'
    replace = mode is FlagsMode.REPLACE
    for rows in iter_staged_flag_changes(tx, list_id, replace=replace):
        batch: list[Change] = []
        for line, contact_id, email, current, refused, flags in rows:
            have = current or 0
            granted = flags & ~have
            revoked = have & ~flags if replace else 0
            if current is not None and not granted and not revoked:
                continue
            batch.append(
                (contact_id, email, current, refused, granted, revoked, f"{head}{line}{tail}")
            )
        yield batch


def _apply_batch(
    ctx: Context,
    tx: Any,
    list_id: int,
    rows: list[Row],
    mode: FlagsMode,
    evidence_base: dict[str, Any],
    report: ImportReport,
    fresh: bool,
) -> None:
    if not rows:
        return
    now = ctx.now()
    existing = {} if fresh else contacts_by_email(tx, list_id, [row.email for row in rows])
    new_rows = [row for row in rows if row.email not in existing]
    new_ids = insert_contacts_many(
        tx,
        list_id,
        [NewContact(r.email, dict(r.attributes), r.status or SUBSCRIBED) for r in new_rows],
        now=now,
    )
    report.created += len(new_ids)
    ids = dict(zip((r.email for r in new_rows), new_ids, strict=True))
    changes: list[tuple[int, dict[str, Any], str]] = []
    decisions: list[Decision] = []
    for row in rows:
        current: int | None = None
        contact = existing.get(row.email)
        if contact is not None:
            ids[row.email] = contact.id
            current = contact.privacy_flags
            attributes = {**contact.attributes, **row.attributes}
            status = UNSUBSCRIBED if row.status == UNSUBSCRIBED else contact.status
            if attributes != contact.attributes or status != contact.status:
                changes.append((contact.id, attributes, status))
        if row.flags is None or mode is FlagsMode.IGNORE:
            continue
        have = current or 0
        granted = row.flags & ~have
        revoked = have & ~row.flags if mode is FlagsMode.REPLACE else 0
        if current is not None and not granted and not revoked:
            continue
        decisions.append(
            Decision(
                contact_id=ids[row.email],
                list_id=list_id,
                email=row.email,
                granted=granted,
                revoked=revoked,
                method=Method.IMPORT,
                at=now,
                evidence={**evidence_base, "line": row.line},
            )
        )
    update_contacts_many(tx, changes, now=now)
    report.updated += len(changes)
    result = record_decisions(tx, decisions, cooldown=ctx.cooldown, keep_unchanged=False)
    report.flags_changed += len(result.entries)
    report.skipped_refused += len(result.skipped_refused)
