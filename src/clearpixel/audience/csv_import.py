"""`contacts import`: a CSV file into a list, every flags change through the consent ledger.

The file is streamed, never loaded, and everything happens inside ONE transaction, so a
failed import (bad rows, a refused file, a database error) stores nothing. On PostgreSQL one
pass checks every row, hashes the file and COPYs the good rows into a staging table;
set-based statements then write the contacts and only the flags changes are chained into the
ledger. On SQLite a first pass checks and hashes, a second applies in batches (and refuses a
file that changed between the passes).

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

import csv
import hashlib
import io
import json
import re
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import IO, Any

from clearpixel.audience.emails import InvalidEmail, normalise_email
from clearpixel.consent import record_decisions
from clearpixel.consent.decisions import Change, flags_transaction, record_changes
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.flags import FlagsError, Purposes
from clearpixel.domain.ledger import Decision, Method, encode_evidence
from clearpixel.store.contacts import (
    SUBSCRIBED,
    UNSUBSCRIBED,
    NewContact,
    contacts_by_email,
    count_contacts,
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

BATCH = 5000
MAX_LISTED_ERRORS = 20
RESERVED = ("email", "privacy_flags", "status")
_DIGITS = re.compile(r"[0-9]+")

Progress = Callable[[str, int, int], None]
"""Called with (phase, done, total): phase `checking` counts bytes, `importing` rows."""


class FlagsMode(StrEnum):
    MERGE = "merge"
    REPLACE = "replace"
    IGNORE = "ignore"


class ImportRefused(ClearpixelError):
    """The file was not imported; nothing was stored. The message says why."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str


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


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    email: str
    flags: int | None
    attributes: dict[str, str]
    status: str | None


class _HashingReader(io.RawIOBase):
    """A binary file that feeds SHA-256 with every byte read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.sha256.update(data)
        self.done += len(data)
        return len(data)


class _Pass:
    """One streaming pass over the file: the header, then each record parsed and checked."""

    def __init__(self, path: Path, purposes: Purposes, mode: FlagsMode) -> None:
        self.path = path
        self.purposes = purposes
        self.mode = mode
        self.header: list[str] = []

    def records(self) -> Iterator[tuple[int, list[str], _Row | str]]:
        """(line, raw fields, parsed row or the reason it is bad) for every non-blank record."""
        with self.path.open("rb") as raw:
            self.reader = _HashingReader(raw)
            text = io.TextIOWrapper(
                io.BufferedReader(self.reader, 1 << 16), encoding="utf-8-sig", newline=""
            )
            rows = csv.reader(text)
            try:
                self.header = next(rows, [])
                index = self._columns(self.header)
                last = rows.line_num
                for fields in rows:
                    line, last = last + 1, rows.line_num
                    if not fields or fields == [""]:
                        continue
                    yield line, fields, self._parse(line, fields, index)
            except UnicodeDecodeError as exc:
                raise ImportRefused(
                    f"{self.path.name} is not UTF-8 text (near line {rows.line_num + 1})"
                ) from exc
            except csv.Error as exc:
                raise ImportRefused(
                    f"{self.path.name}: line {rows.line_num}: malformed CSV ({exc})"
                ) from exc

    @property
    def sha256(self) -> str:
        return self.reader.sha256.hexdigest()

    def _columns(self, header: list[str]) -> dict[str, int]:
        names = [name.strip() for name in header]
        if not names:
            raise ImportRefused(f"{self.path.name} is empty: it needs a header with 'email'")
        index: dict[str, int] = {}
        for position, name in enumerate(names):
            if "\x00" in name:
                raise ImportRefused(f"column {position + 1} of the header holds a NUL character")
            if not name:
                raise ImportRefused(f"column {position + 1} of the header has no name")
            key = name.lower() if name.lower() in RESERVED else name
            if key in index:
                raise ImportRefused(f"column {name!r} appears twice in the header")
            index[key] = position
        if "email" not in index:
            raise ImportRefused(
                f"{self.path.name} has no 'email' column (header: {', '.join(names)})"
            )
        self._attributes = [
            (name, position) for name, position in index.items() if name not in RESERVED
        ]
        return index

    def _parse(self, line: int, fields: list[str], index: dict[str, int]) -> _Row | str:
        if len(fields) != len(self.header):
            return f"{len(fields)} fields where the header has {len(self.header)}"
        for position, cell in enumerate(fields):
            if "\x00" in cell:
                return f"column {self.header[position].strip()!r} holds a NUL character"
        try:
            email = normalise_email(fields[index["email"]])
        except InvalidEmail as exc:
            return str(exc)
        flags: int | None = None
        if self.mode is not FlagsMode.IGNORE and "privacy_flags" in index:
            cell = fields[index["privacy_flags"]].strip()
            if cell:
                if not _DIGITS.fullmatch(cell):
                    if cell.startswith("-") and _DIGITS.fullmatch(cell[1:]):
                        return f"privacy_flags {cell} is negative"
                    return f"privacy_flags {cell!r} is not a non-negative integer"
                try:
                    flags = self.purposes.check_value(int(cell))
                except FlagsError as exc:
                    return str(exc)
        status: str | None = None
        if "status" in index:
            status = fields[index["status"]].strip().lower() or None
            if status not in (None, SUBSCRIBED, UNSUBSCRIBED):
                return f"status {status!r} is neither {SUBSCRIBED!r} nor {UNSUBSCRIBED!r}"
        attributes = {name: fields[pos] for name, pos in self._attributes if fields[pos] != ""}
        return _Row(line, email, flags, attributes, status)


def _key(email: str) -> int:
    return hash(email) & 0xFFFF_FFFF_FFFF_FFFF


def import_csv(
    ctx: Context,
    path: Path,
    *,
    list_name: str,
    flags_mode: FlagsMode = FlagsMode.MERGE,
    basis: str | None = None,
    skip_invalid: bool = False,
    rejected_path: Path | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import `path` into the list `list_name`; see the module docstring for the rules.

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
    size = path.stat().st_size
    report = ImportReport()
    if ctx.db.is_postgres:
        return _import_staged(
            ctx, path, target.id, flags_mode, basis, skip_invalid, rejected_path, progress
        )

    # Pass 1: check every row, hash the file, find duplicate emails (8 bytes per row).
    checking = _Pass(path, ctx.purposes, flags_mode)
    buckets = [array("Q") for _ in range(256)]
    granting_line = 0
    bad = 0
    for line, _fields, row in checking.records():
        report.rows += 1
        if isinstance(row, str):
            bad += 1
            if len(report.errors) < MAX_LISTED_ERRORS:
                report.errors.append(RowError(line, row))
        else:
            key = _key(row.email)
            buckets[key & 0xFF].append(key)
            if row.flags and not granting_line:
                granting_line = line
        if progress and report.rows % 5000 == 0:
            progress("checking", checking.reader.done, size)
    report.source_sha256 = checking.sha256
    if progress:
        progress("checking", size, size)
    duplicates = _duplicates(path, ctx.purposes, flags_mode, buckets)
    del buckets
    bad += len(duplicates)
    for line in sorted(duplicates)[: MAX_LISTED_ERRORS - len(report.errors)]:
        report.errors.append(RowError(line, f"duplicate of line {duplicates[line]}"))
    report.errors.sort(key=lambda e: e.line)
    report.rejected = bad

    if granting_line and not basis:
        raise ImportRefused(
            f"{path.name} grants consent (line {granting_line} sets privacy_flags) and no "
            "legal basis was given: pass --basis TEXT (e.g. the form and date the consent "
            "was collected with). Nothing was imported."
        )
    if bad and not skip_invalid:
        if rejected_path:
            _write_rejected(path, ctx.purposes, flags_mode, duplicates, rejected_path)
        listed = "\n".join(f"  line {e.line}: {e.reason}" for e in report.errors)
        more = f"\n  ... and {bad - len(report.errors)} more" if bad > len(report.errors) else ""
        raise ImportRefused(
            f"{path.name}: {bad} bad row(s), nothing was imported "
            f"(use --skip-invalid to import the good rows):\n{listed}{more}"
        )

    # Pass 2: apply the good rows in batches, in one transaction.
    applying = _Pass(path, ctx.purposes, flags_mode)
    evidence_base = {
        "basis": basis,
        "source_sha256": report.source_sha256,
        "source_file": path.name,
    }
    good_rows = report.rows - bad
    done = 0
    # flags of this list cannot change under the import
    with flags_transaction(ctx.db) as tx, _Rejected(rejected_path, skip_invalid) as rejected:
        # Into an empty list every row is new (the file has no duplicates): no lookups.
        fresh = count_contacts(tx, target.id) == 0
        pending: list[_Row] = []
        for line, fields, row in applying.records():
            if isinstance(row, str) or line in duplicates:
                reason = row if isinstance(row, str) else f"duplicate of line {duplicates[line]}"
                rejected.write(applying.header, fields, reason)
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
            raise ImportRefused(f"{path.name} changed during the import; nothing was imported")
    if progress:
        progress("importing", good_rows, good_rows)
    return report


def _import_staged(
    ctx: Context,
    path: Path,
    list_id: int,
    flags_mode: FlagsMode,
    basis: str | None,
    skip_invalid: bool,
    rejected_path: Path | None,
    progress: Progress | None,
) -> ImportReport:
    """The PostgreSQL path: ONE streaming pass checks each row, hashes the file and COPYs the
    good rows into a staging table; set-based statements then update and insert the contacts
    and find the flags that change, and only those are chained (in line order) and COPYed
    into the ledger. All in one transaction: any refusal or error stores nothing."""
    size = path.stat().st_size
    report = ImportReport()
    checking = _Pass(path, ctx.purposes, flags_mode)
    buckets = [array("Q") for _ in range(256)]
    state = {"granting": 0, "bad": 0}

    def good_rows() -> Iterator[StagedRow]:
        for line, _fields, row in checking.records():
            report.rows += 1
            if progress and report.rows % 5000 == 0:
                progress("checking", checking.reader.done, size)
            if isinstance(row, str):
                state["bad"] += 1
                if len(report.errors) < MAX_LISTED_ERRORS:
                    report.errors.append(RowError(line, row))
                continue
            key = _key(row.email)
            buckets[key & 0xFF].append(key)
            if row.flags and not state["granting"]:
                state["granting"] = line
            yield (line, row.email, row.flags, _attributes_json(row.attributes), row.status)

    with flags_transaction(ctx.db) as tx:  # flags of this list cannot change under the import
        stage_rows(tx, good_rows())
        report.source_sha256 = checking.sha256
        if progress:
            progress("checking", size, size)
        duplicates = _duplicates(path, ctx.purposes, flags_mode, buckets)
        buckets.clear()
        bad = state["bad"] + len(duplicates)
        for line in sorted(duplicates)[: MAX_LISTED_ERRORS - len(report.errors)]:
            report.errors.append(RowError(line, f"duplicate of line {duplicates[line]}"))
        report.errors.sort(key=lambda e: e.line)
        report.rejected = bad
        if state["granting"] and not basis:
            raise ImportRefused(
                f"{path.name} grants consent (line {state['granting']} sets privacy_flags) and "
                "no legal basis was given: pass --basis TEXT (e.g. the form and date the "
                "consent was collected with). Nothing was imported."
            )
        if bad and rejected_path:
            _write_rejected(path, ctx.purposes, flags_mode, duplicates, rejected_path)
        if bad and not skip_invalid:
            listed = "\n".join(f"  line {e.line}: {e.reason}" for e in report.errors)
            more = (
                f"\n  ... and {bad - len(report.errors)} more" if bad > len(report.errors) else ""
            )
            raise ImportRefused(
                f"{path.name}: {bad} bad row(s), nothing was imported "
                f"(use --skip-invalid to import the good rows):\n{listed}{more}"
            )
        drop_staged_lines(tx, sorted(duplicates))

        now = ctx.now()
        good = report.rows - bad
        if progress:
            progress("importing", 0, good)
        report.updated = update_existing_from_staging(tx, list_id, now=now)
        report.created = insert_new_from_staging(tx, list_id, now=now)
        if flags_mode is not FlagsMode.IGNORE:
            written = record_changes(
                tx,
                _flag_changes(tx, list_id, flags_mode, basis, report.source_sha256, path.name),
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


def _duplicates(
    path: Path, purposes: Purposes, mode: FlagsMode, buckets: list[array[int]]
) -> dict[int, int]:
    """Line of each repeated email -> line of its first occurrence. Hash keys find the
    candidates without holding emails in memory; a second look confirms them exactly."""
    candidates: set[int] = set()
    for bucket in buckets:
        ordered = sorted(bucket)
        candidates.update(a for a, b in pairwise(ordered) if a == b)
    if not candidates:
        return {}
    first: dict[str, int] = {}
    repeated: dict[int, int] = {}
    for line, _fields, row in _Pass(path, purposes, mode).records():
        if isinstance(row, str) or _key(row.email) not in candidates:
            continue
        if row.email in first:
            repeated[line] = first[row.email]
        else:
            first[row.email] = line
    return repeated


class _Rejected:
    """The --rejected file: the bad rows as they were, plus a `reason` column."""

    def __init__(self, path: Path | None, enabled: bool = True) -> None:
        self.path = path if enabled else None
        self.handle: IO[str] | None = None
        self.writer: Any = None

    def __enter__(self) -> _Rejected:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle:
            self.handle.close()

    def write(self, header: list[str], fields: list[str], reason: str) -> None:
        if self.path is None:
            return
        if self.writer is None:
            self.handle = self.path.open("w", encoding="utf-8", newline="")
            self.writer = csv.writer(self.handle)
            self.writer.writerow([*header, "reason"])
        self.writer.writerow([*fields, reason])


def _write_rejected(
    path: Path, purposes: Purposes, mode: FlagsMode, duplicates: dict[int, int], out: Path
) -> None:
    reading = _Pass(path, purposes, mode)
    with _Rejected(out) as rejected:
        for line, fields, row in reading.records():
            if isinstance(row, str):
                rejected.write(reading.header, fields, row)
            elif line in duplicates:
                rejected.write(reading.header, fields, f"duplicate of line {duplicates[line]}")


def _apply_batch(
    ctx: Context,
    tx: Any,
    list_id: int,
    rows: list[_Row],
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
