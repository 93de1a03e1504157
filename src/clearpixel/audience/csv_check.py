"""Judging an import file as a whole before anything is applied: bad rows (listed by line,
the first few), repeated addresses, whether it grants consent, and the one refusal rule
both database engines follow (`refuse`)."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from pathlib import Path

from clearpixel.audience.csv_parse import (
    FlagsMode,
    ImportRefused,
    Row,
    duplicates,
    email_key,
    write_rejected,
)
from clearpixel.domain.erasure import erased_key
from clearpixel.domain.errors import N_, Message
from clearpixel.domain.flags import Purposes

MAX_LISTED_ERRORS = 20
ERASED = Message(N_("this address was erased at its owner's request; it is not imported again"))


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: Message


@dataclass
class Check:
    """What a checking pass found, row by row (`see`), then for the whole file (`finish`)."""

    path: Path
    purposes: Purposes
    mode: FlagsMode
    name: str = ""  # how messages name the file (its file name when empty)
    rows: int = 0
    bad: int = 0
    errors: list[RowError] = field(default_factory=list)
    granting_line: int = 0  # the first line that sets privacy_flags to a non-zero value
    duplicates: dict[int, int] = field(default_factory=dict)
    # keyed hashes of erased addresses, and the installation's keys that make them
    erased: frozenset[str] = frozenset()
    secrets: tuple[str, ...] = ()
    excluded: dict[int, Message] = field(default_factory=dict)  # good rows refused, by line
    _buckets: list[array[int]] = field(default_factory=lambda: [array("Q") for _ in range(256)])

    def see(self, line: int, row: Row | Message) -> bool:
        """Count one record; True when it is a good row (repeats are found by `finish`)."""
        self.rows += 1
        if isinstance(row, Message):
            self._error(line, row)
            return False
        if self.erased and any(erased_key(k, row.email) in self.erased for k in self.secrets):
            self.excluded[line] = ERASED
            self._error(line, ERASED)
            return False
        key = email_key(row.email)
        self._buckets[key & 0xFF].append(key)
        if row.flags and not self.granting_line:
            self.granting_line = line
        return True

    def finish(self) -> None:
        """Find repeated addresses (each a bad row: 'duplicate of line N') and order the
        listed errors by line."""
        self.duplicates = duplicates(self.path, self.purposes, self.mode, self._buckets)
        self._buckets = []
        self.bad += len(self.duplicates)
        for line in sorted(self.duplicates)[: MAX_LISTED_ERRORS - len(self.errors)]:
            self.errors.append(RowError(line, duplicate_of(self.duplicates[line])))
        self.errors.sort(key=lambda e: e.line)

    def left_out(self, line: int) -> bool:
        """A parsed row that is not imported: a repeat, or refused (an erased address)."""
        return line in self.duplicates or line in self.excluded

    def _error(self, line: int, reason: Message) -> None:
        self.bad += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(RowError(line, reason))


def refuse(check: Check, *, basis: str | None, skip_invalid: bool, rejected: Path | None) -> None:
    """Raise ImportRefused when the file may not be imported: it grants consent without a
    legal basis, or it has bad rows and `skip_invalid` is off (the first ones listed by
    line). Bad rows go to `rejected`, when given, with their reason, whether or not the
    file is refused for them."""
    name = check.name or check.path.name
    if check.granting_line and not basis:
        raise ImportRefused(
            N_(
                "%(name)s grants consent (line %(line)s sets privacy_flags) and no legal basis "
                "was given: pass --basis TEXT (e.g. the form and date the consent was "
                "collected with). Nothing was imported."
            ),
            name=name,
            line=check.granting_line,
        )
    if check.bad and rejected:
        reasons = {line: duplicate_of(first) for line, first in check.duplicates.items()}
        write_rejected(check.path, check.purposes, check.mode, reasons | check.excluded, rejected)
    if check.bad and not skip_invalid:
        lines = [
            Message(N_("  line %(line)s: %(reason)s"), line=e.line, reason=e.reason)
            for e in check.errors
        ]
        if check.bad > len(check.errors):
            lines.append(Message(N_("  ... and %(n)s more"), n=check.bad - len(check.errors)))
        raise ImportRefused(
            N_(
                "%(name)s: %(bad)s bad row(s), nothing was imported (use --skip-invalid to "
                "import the good rows):\n%(listed)s"
            ),
            name=name,
            bad=check.bad,
            listed=Message.joined(lines, N_("%(before)s\n%(after)s")),
        )


def duplicate_of(first: int) -> Message:
    """The reason a repeated address is a bad row."""
    return Message(N_("duplicate of line %(first)s"), first=first)
