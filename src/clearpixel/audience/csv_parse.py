"""Reading an import file: the header, each record parsed into a row or the reason it is bad,
the file's SHA-256 as it streams, repeated addresses, and the `--rejected` copy of bad rows.

Nothing here touches the database; `csv_check.py` judges a whole file from these rows and
`csv_import.py` applies it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import IO, Any

from clearpixel.audience.emails import InvalidEmail, normalise_email
from clearpixel.domain.errors import N_, ClearpixelError, Message
from clearpixel.domain.flags import FlagsError, Purposes
from clearpixel.domain.spreadsheet import read_cell, safe_row
from clearpixel.store.contacts import SUBSCRIBED, UNSUBSCRIBED

RESERVED = ("email", "privacy_flags", "status")
_DIGITS = re.compile(r"[0-9]+")


class FlagsMode(StrEnum):
    MERGE = "merge"
    REPLACE = "replace"
    IGNORE = "ignore"


class ImportRefused(ClearpixelError):
    """The file was not imported; nothing was stored. The message says why."""


@dataclass(frozen=True, slots=True)
class Row:
    """One good record of the file."""

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


class Pass:
    """One streaming pass over the file: the header, then each record parsed and checked."""

    def __init__(self, path: Path, purposes: Purposes, mode: FlagsMode, *, name: str = "") -> None:
        self.path = path
        self.name = name or path.name  # how messages name the file
        self.purposes = purposes
        self.mode = mode
        self.header: list[str] = []
        self.reader: _HashingReader | None = None

    def records(self) -> Iterator[tuple[int, list[str], Row | Message]]:
        """(line, fields, parsed row or the reason it is bad) for every non-blank record; a cell
        a CSV export protected from spreadsheets (`domain.spreadsheet`) is read as its value."""
        with self.path.open("rb") as raw:
            self.reader = _HashingReader(raw)
            text = io.TextIOWrapper(
                io.BufferedReader(self.reader, 1 << 16), encoding="utf-8-sig", newline=""
            )
            rows = csv.reader(text)
            try:
                self.header = [read_cell(name) for name in next(rows, [])]
                index = self._columns(self.header)
                last = rows.line_num
                for cells in rows:
                    line, last = last + 1, rows.line_num
                    fields = [read_cell(cell) for cell in cells]
                    if not fields or fields == [""]:
                        continue
                    yield line, fields, self._parse(line, fields, index)
            except UnicodeDecodeError as exc:
                raise ImportRefused(
                    N_("%(name)s is not UTF-8 text (near line %(line)s)"),
                    name=self.name,
                    line=rows.line_num + 1,
                ) from exc
            except csv.Error as exc:
                raise ImportRefused(
                    N_("%(name)s: line %(line)s: malformed CSV (%(problem)s)"),
                    name=self.name,
                    line=rows.line_num,
                    problem=str(exc),
                ) from exc

    @property
    def sha256(self) -> str:
        assert self.reader is not None
        return self.reader.sha256.hexdigest()

    @property
    def bytes_read(self) -> int:
        return self.reader.done if self.reader else 0

    def _columns(self, header: list[str]) -> dict[str, int]:
        names = [name.strip() for name in header]
        if not names:
            raise ImportRefused(
                N_("%(name)s is empty: it needs a header with 'email'"), name=self.name
            )
        index: dict[str, int] = {}
        for position, name in enumerate(names):
            if "\x00" in name:
                raise ImportRefused(
                    N_("column %(n)s of the header holds a NUL character"), n=position + 1
                )
            if not name:
                raise ImportRefused(N_("column %(n)s of the header has no name"), n=position + 1)
            key = name.lower() if name.lower() in RESERVED else name
            if key in index:
                raise ImportRefused(N_("column %(name)r appears twice in the header"), name=name)
            index[key] = position
        if "email" not in index:
            raise ImportRefused(
                N_("%(name)s has no 'email' column (header: %(header)s)"),
                name=self.name,
                header=", ".join(names),
            )
        self._attributes = [
            (name, position) for name, position in index.items() if name not in RESERVED
        ]
        return index

    def _parse(self, line: int, fields: list[str], index: dict[str, int]) -> Row | Message:
        if len(fields) != len(self.header):
            return Message(
                N_("%(n)s fields where the header has %(header)s"),
                n=len(fields),
                header=len(self.header),
            )
        for position, cell in enumerate(fields):
            if "\x00" in cell:
                return Message(
                    N_("column %(column)r holds a NUL character"),
                    column=self.header[position].strip(),
                )
        try:
            email = normalise_email(fields[index["email"]])
        except InvalidEmail as exc:
            return exc.as_message()
        flags: int | None = None
        if self.mode is not FlagsMode.IGNORE and "privacy_flags" in index:
            cell = fields[index["privacy_flags"]].strip()
            if cell:
                if not _DIGITS.fullmatch(cell):
                    if cell.startswith("-") and _DIGITS.fullmatch(cell[1:]):
                        return Message(N_("privacy_flags %(cell)s is negative"), cell=cell)
                    return Message(
                        N_("privacy_flags %(cell)r is not a non-negative integer"), cell=cell
                    )
                try:
                    flags = self.purposes.check_value(int(cell))
                except FlagsError as exc:
                    return exc.as_message()
        status: str | None = None
        if "status" in index:
            status = fields[index["status"]].strip().lower() or None
            if status not in (None, SUBSCRIBED, UNSUBSCRIBED):
                return Message(
                    N_("status %(status)r is neither %(one)r nor %(other)r"),
                    status=status,
                    one=SUBSCRIBED,
                    other=UNSUBSCRIBED,
                )
        attributes = {name: fields[pos] for name, pos in self._attributes if fields[pos] != ""}
        return Row(line, email, flags, attributes, status)


def email_key(email: str) -> int:
    """A 64-bit key of an address: equal addresses, equal keys (8 bytes per row held)."""
    return hash(email) & 0xFFFF_FFFF_FFFF_FFFF


def duplicates(
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
    for line, _fields, row in Pass(path, purposes, mode).records():
        if isinstance(row, Message) or email_key(row.email) not in candidates:
            continue
        if row.email in first:
            repeated[line] = first[row.email]
        else:
            first[row.email] = line
    return repeated


class Rejected:
    """The --rejected file: the bad rows as they were, plus a `reason` column; no cell is
    left for a spreadsheet to read as a formula (`domain.spreadsheet`)."""

    def __init__(self, path: Path | None, enabled: bool = True) -> None:
        self.path = path if enabled else None
        self.handle: IO[str] | None = None
        self.writer: Any = None

    def __enter__(self) -> Rejected:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle:
            self.handle.close()

    def write(self, header: list[str], fields: list[str], reason: Message) -> None:
        if self.path is None:
            return
        if self.writer is None:
            self.handle = self.path.open("w", encoding="utf-8", newline="")
            self.writer = csv.writer(self.handle)
            self.writer.writerow(safe_row([*header, "reason"]))
        self.writer.writerow(safe_row([*fields, str(reason)]))


def write_rejected(
    path: Path, purposes: Purposes, mode: FlagsMode, left_out: dict[int, Message], out: Path
) -> None:
    """Every bad row of `path` (and every good row `left_out` names, by line) into `out`,
    with its reason."""
    reading = Pass(path, purposes, mode)
    with Rejected(out) as rejected:
        for line, fields, row in reading.records():
            if isinstance(row, Message):
                rejected.write(reading.header, fields, row)
            elif line in left_out:
                rejected.write(reading.header, fields, left_out[line])
