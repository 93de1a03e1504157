"""The `privacy_flags` bitmask: purposes, NULL semantics and bit arithmetic.

NULL (None) means the contact was never asked; 0 means asked and nothing granted; bit value 1
is consent to personal open tracking. Every other bit is a purpose the installation defines.
All arithmetic is NULL-safe (DESIGN R15): a missing value counts as 0 when bits are added.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from clearpixel.domain.errors import N_, ClearpixelError

OPEN_TRACKING = "open_tracking"
OPEN_TRACKING_BIT = 1
MAX_BIT = 1 << 30  # fits a signed 32-bit INTEGER column on every engine


class FlagsError(ClearpixelError, ValueError):
    """A purpose name, bit or flags value that the installation does not define."""


def grant(flags: int | None, bits: int) -> int:
    """Return `flags` with `bits` set; NULL counts as 0 (the SQL `COALESCE(f, 0) | bits`)."""
    return (flags or 0) | bits


def revoke(flags: int | None, bits: int) -> int:
    """Return `flags` with `bits` cleared; NULL becomes 0, since the contact was now asked."""
    return (flags or 0) & ~bits


def apply(flags: int | None, *, granted: int, revoked: int) -> int:
    """Apply one decision: grant first, then revoke (a bit in both ends up cleared)."""
    return revoke(grant(flags, granted), revoked)


def has(flags: int | None, bits: int) -> bool:
    """True when every bit of `bits` is set in `flags` (NULL has none)."""
    return flags is not None and (flags & bits) == bits


def has_open_tracking(flags: int | None) -> bool:
    """True when the contact consented to personal open tracking (bit 1)."""
    return has(flags, OPEN_TRACKING_BIT)


@dataclass(frozen=True, slots=True)
class Purpose:
    """A named consent purpose and its bit."""

    name: str
    bit: int


class Purposes:
    """The installation's purposes: name to bit, `open_tracking` fixed at 1."""

    def __init__(self, by_name: Mapping[str, int]) -> None:
        if by_name.get(OPEN_TRACKING) != OPEN_TRACKING_BIT:
            raise FlagsError(f"purpose {OPEN_TRACKING!r} must exist with bit 1")
        seen: dict[int, str] = {}
        for name, bit in by_name.items():
            if not name.isidentifier():
                raise FlagsError(f"purpose name {name!r} must be a simple identifier")
            if bit <= 0 or bit & (bit - 1) or bit > MAX_BIT:
                raise FlagsError(f"purpose {name!r}: bit {bit} is not a single power of two")
            if bit in seen:
                raise FlagsError(f"purposes {seen[bit]!r} and {name!r} share bit {bit}")
            seen[bit] = name
        self._by_name = dict(sorted(by_name.items(), key=lambda item: item[1]))
        self.all_bits = sum(self._by_name.values())

    def __iter__(self) -> Iterator[Purpose]:
        return (Purpose(name, bit) for name, bit in self._by_name.items())

    def __len__(self) -> int:
        return len(self._by_name)

    def names(self) -> list[str]:
        """Purpose names in bit order."""
        return list(self._by_name)

    def bit(self, name: str) -> int:
        """The bit of purpose `name`; raises FlagsError naming it when unknown."""
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name)
            raise FlagsError(f"unknown purpose {name!r} (known: {known})") from None

    def mask(self, names: Iterable[str]) -> int:
        """The bitmask of the given purpose names."""
        result = 0
        for name in names:
            result |= self.bit(name)
        return result

    def names_in(self, flags: int | None) -> list[str]:
        """Names of the purposes granted in `flags`, in bit order."""
        if not flags:
            return []
        return [name for name, bit in self._by_name.items() if flags & bit]

    def check_value(self, flags: int | None) -> int | None:
        """Return `flags` unchanged if every set bit is a defined purpose, else raise."""
        if flags is None:
            return None
        if flags < 0:
            raise FlagsError(N_("privacy_flags %(flags)s is negative"), flags=flags)
        undefined = flags & ~self.all_bits
        if undefined:
            raise FlagsError(
                N_("privacy_flags %(flags)s sets bits no purpose defines (%(undefined)s)"),
                flags=flags,
                undefined=undefined,
            )
        return flags


DEFAULT_PURPOSES: dict[str, int] = {OPEN_TRACKING: 1, "personalisation": 2, "profiling": 4}
