"""Machine-open classification: who made a hit, from rules kept as versioned data files.

Rules are loaded once: user-agent patterns (`rules/user_agents.json`) and IP ranges
(`rules/ip_ranges.json`, or the copy `clearpixel classify load-ranges` writes into the data
folder). Loaded ranges live in the data folder, not the database, on purpose: the request
path must classify with the database down (R12), a server reads them at start before it
touches the database, and the file's content hash is the version every verdict names. Several
HTTP nodes get the same file the way they get their settings.

Each verdict names the rule and its version (`name@version`), so a report can say
which rules made it. Order of checks: a prefetch header, a burst of distinct addresses on one
message, Apple's egress ranges, then user-agent patterns (first match wins). A hit from a
scanner network is marked so ingest can call it a scanner when it came within seconds of
delivery. Image proxies of webmail services (GoogleImageProxy, YahooMailProxy) fetch for a
person reading: they are human opens behind a proxy, never dropped.
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import json
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.events import MachineReason, Verdict

RULES_DIR = "rules"
UA_FILE = "user_agents.json"
RANGES_FILE = "ip_ranges.json"
PREFETCH_HEADERS = (
    (b"purpose", b"prefetch"),
    (b"sec-purpose", b"prefetch"),
    (b"x-moz", b"prefetch"),
)
PREFETCH_NAMES = frozenset(name for name, _ in PREFETCH_HEADERS)


class RulesError(ClearpixelError, ValueError):
    """A rules file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Classification:
    verdict: Verdict
    reason: str
    rule: str
    scanner_net: bool = False


@dataclass(frozen=True, slots=True)
class UaRule:
    name: str
    pattern: re.Pattern[str]
    verdict: Verdict
    reason: str


class RangeSet:
    """Merged IPv4/IPv6 intervals with a binary search: membership in about a microsecond
    whatever the number of ranges (Apple's full egress list has tens of thousands)."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        v4: list[ipaddress.IPv4Network] = []
        v6: list[ipaddress.IPv6Network] = []
        for cidr in cidrs:
            try:
                net = ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError as exc:
                raise RulesError(f"not an IP range: {cidr!r}") from exc
            (v4 if net.version == 4 else v6).append(net)  # type: ignore[arg-type]
        self.size = len(v4) + len(v6)
        self._v4 = self._intervals(ipaddress.collapse_addresses(v4))
        self._v6 = self._intervals(ipaddress.collapse_addresses(v6))

    @staticmethod
    def _intervals(
        nets: Iterable[ipaddress.IPv4Network] | Iterable[ipaddress.IPv6Network],
    ) -> tuple[list[int], list[int]]:
        starts: list[int] = []
        ends: list[int] = []
        for net in nets:
            starts.append(int(net.network_address))
            ends.append(int(net.broadcast_address))
        return starts, ends

    def __contains__(self, ip: str) -> bool:
        parsed = parse_ip(ip)
        return parsed is not None and self.holds(*parsed)

    def holds(self, version: int, value: int) -> bool:
        """Whether the address `value` (of IP `version`, as `parse_ip` gives) is in a range."""
        starts, ends = self._v4 if version == 4 else self._v6
        i = bisect.bisect_right(starts, value) - 1
        return i >= 0 and value <= ends[i]


@dataclass(frozen=True, slots=True)
class IpSet:
    name: str
    reason: MachineReason
    ranges: RangeSet


@dataclass(frozen=True, slots=True)
class Rules:
    ua_version: str
    ua_rules: tuple[UaRule, ...]
    ip_version: str
    ip_sets: tuple[IpSet, ...]
    scanner_window_seconds: float = 60.0


def parse_ip(ip: str) -> tuple[int, int] | None:
    """(version, integer value) of an address, None if it is not one. The C parser of the
    socket module: several times faster than `ipaddress` on the request path."""
    try:
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big")
    except OSError:
        pass
    try:
        return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, ip), "big")
    except OSError:
        return None


def _packaged(name: str) -> str:
    return (resources.files("clearpixel.ingest") / RULES_DIR / name).read_text()


def ranges_path(data_dir: Path) -> Path:
    """Where `classify load-ranges` keeps the installation's IP ranges."""
    return data_dir / RULES_DIR / RANGES_FILE


def _parse_ua(text: str) -> tuple[str, tuple[UaRule, ...]]:
    data = json.loads(text)
    rules = []
    for item in data["rules"]:
        verdict = Verdict(item["verdict"])
        reason = str(MachineReason(item["reason"])) if item.get("reason") else ""
        rules.append(UaRule(item["name"], re.compile(item["pattern"]), verdict, reason))
    return str(data["version"]), tuple(rules)


def parse_ranges(data: Mapping[str, Any]) -> tuple[str, tuple[IpSet, ...], float]:
    """Validate an IP ranges document; returns (version, sets, scanner window)."""
    try:
        sets = tuple(
            IpSet(str(item["name"]), MachineReason(item["reason"]), RangeSet(item["cidrs"]))
            for item in data["sets"]
        )
        return str(data["version"]), sets, float(data.get("scanner_window_seconds", 60))
    except (KeyError, TypeError, ValueError) as exc:
        raise RulesError(f"bad IP ranges document: {exc}") from exc


def load_rules(data_dir: Path | None = None) -> Rules:
    """Load the rule files once: packaged user-agent patterns, and the data folder's IP
    ranges if `classify load-ranges` wrote some, else the packaged default."""
    ua_version, ua_rules = _parse_ua(_packaged(UA_FILE))
    local = ranges_path(data_dir) if data_dir else None
    text = local.read_text() if local and local.exists() else _packaged(RANGES_FILE)
    ip_version, ip_sets, window = parse_ranges(json.loads(text))
    return Rules(ua_version, ua_rules, ip_version, ip_sets, window)


def read_cidrs(text: str) -> list[str]:
    """CIDRs from a plain list (one per line) or a CSV whose first column is the range
    (Apple's egress-ip-ranges.csv); blank lines and # comments are skipped."""
    cidrs = []
    for line in text.splitlines():
        first = line.split(",", 1)[0].strip()
        if first and not first.startswith("#"):
            cidrs.append(first)
    return cidrs


def merge_ranges(
    current: Mapping[str, Any], name: str, reason: MachineReason, cidrs: list[str], *, replace: bool
) -> dict[str, Any]:
    """A new ranges document: set `name` replaced by, or extended with, `cidrs`; the version
    becomes a hash of the content so every verdict names the exact ranges it used."""
    RangeSet(cidrs)  # validate before writing anything
    sets = [dict(s) for s in current["sets"]]
    for item in sets:
        if item["name"] == name:
            old = [] if replace else list(item["cidrs"])
            item["cidrs"] = old + [c for c in cidrs if c not in set(old)]
            item["reason"] = str(reason)
            break
    else:
        sets.append({"name": name, "reason": str(reason), "cidrs": cidrs})
    body = {k: v for k, v in current.items() if k not in ("sets", "version")}
    digest = hashlib.sha256(json.dumps(sets, sort_keys=True).encode()).hexdigest()[:12]
    return {**body, "version": f"ip-local-{digest}", "sets": sets}


class BurstTracker:
    """Remembers, per message, the addresses that fetched it in the last seconds: several
    distinct addresses within the window means a machine (a scanner farm), not a reader.
    Memory is bounded: at most `max_addresses` per message, old entries expire and the table
    is cleared when it grows too big."""

    def __init__(
        self,
        *,
        window: float = 10.0,
        distinct: int = 3,
        max_keys: int = 100_000,
        max_addresses: int = 16,
    ):
        self.window = window
        self.distinct = distinct
        self.max_keys = max_keys
        self.max_addresses = max_addresses
        # per message: address -> when it last fetched, oldest first
        self._seen: dict[tuple[int, int], dict[str, float]] = {}

    def is_burst(self, key: tuple[int, int], ip: str, at: float) -> bool:
        seen = self._seen.get(key)
        if seen is None:
            if len(self._seen) >= self.max_keys:
                self._seen.clear()
            self._seen[key] = {ip: at}
            return False
        seen.pop(ip, None)
        seen[ip] = at
        if len(seen) < self.distinct:  # one reader opening again: nothing to expire yet
            return False
        cutoff = at - self.window
        for addr, when in list(seen.items()):
            if when >= cutoff and len(seen) <= self.max_addresses:
                break
            del seen[addr]
        return len(seen) >= self.distinct


# The verdict cache by user agent is bounded by the characters it keeps, not only by its
# entries: 3,000 distinct 100 KB user agents used to keep +283 MB. A user agent longer than
# MAX_CACHED_UA is classified every time (never seen from a real mail client; the server caps
# request heads anyway).
MAX_CACHED_UA = 1024
UA_CACHE_CHARS = 4_000_000
UA_CACHE_ENTRIES = 10_000
MAX_CACHED_IP = 45  # the longest IPv6 text; anything longer is not an address
IP_CACHE_ENTRIES = 50_000


class Classifier:
    """Applies the rules to one request; pure apart from the burst memory and the verdict
    cache (both bounded)."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.burst = BurstTracker()
        self._ua_cache: dict[str, Classification] = {}
        self._ip_cache: dict[str, tuple[Classification | None, bool]] = {}
        self._ua_cache_chars = 0

    def classify(
        self,
        *,
        ip: str,
        user_agent: str,
        headers: Iterable[tuple[bytes, bytes]] = (),
        message: tuple[int, int] | None = None,
        at: float = 0.0,
    ) -> Classification:
        """The verdict for one hit. `message` is (campaign, contact) for per-recipient URLs."""
        for name, value in headers:
            if name in PREFETCH_NAMES and (name, value.lower()) in PREFETCH_HEADERS:
                return self._machine(MachineReason.PREFETCH, f"header:{name.decode()}")
        if message is not None and ip and self.burst.is_burst(message, ip, at):
            return self._machine(MachineReason.BURST, "burst")
        machine, scanner_net = self._by_address(ip)
        if machine is not None:
            return machine
        result = self._by_user_agent(user_agent)
        if scanner_net:
            return Classification(result.verdict, result.reason, result.rule, scanner_net=True)
        return result

    def _by_address(self, ip: str) -> tuple[Classification | None, bool]:
        """(the machine verdict of the IP range holding `ip`, or None; whether `ip` is in a
        scanner network). Cached per address, like verdicts per user agent: the same
        addresses (webmail image proxies, Apple's relays) come back again and again."""
        cached = self._ip_cache.get(ip)
        if cached is not None:
            return cached
        found: tuple[Classification | None, bool] = (None, False)
        parsed = parse_ip(ip) if ip else None
        for ip_set in self.rules.ip_sets:
            if parsed is not None and ip_set.ranges.holds(parsed[0], parsed[1]):
                if ip_set.reason is MachineReason.SECURITY_SCANNER:
                    found = (None, True)
                    continue
                found = (self._machine(ip_set.reason, f"ip:{ip_set.name}", ip=True), found[1])
                break
        if len(ip) <= MAX_CACHED_IP:
            if len(self._ip_cache) >= IP_CACHE_ENTRIES:
                self._ip_cache.clear()
            self._ip_cache[ip] = found
        return found

    def _machine(self, reason: MachineReason, name: str, *, ip: bool = False) -> Classification:
        version = self.rules.ip_version if ip else self.rules.ua_version
        return Classification(Verdict.MACHINE, str(reason), f"{name}@{version}")

    def _by_user_agent(self, user_agent: str) -> Classification:
        cached = self._ua_cache.get(user_agent)
        if cached is not None:
            return cached
        result = Classification(Verdict.UNKNOWN, "", f"no_rule@{self.rules.ua_version}")
        if user_agent:
            for rule in self.rules.ua_rules:
                if rule.pattern.search(user_agent):
                    name = f"ua:{rule.name}@{self.rules.ua_version}"
                    result = Classification(rule.verdict, rule.reason, name)
                    break
        if len(user_agent) > MAX_CACHED_UA:
            return result
        if (
            len(self._ua_cache) >= UA_CACHE_ENTRIES
            or self._ua_cache_chars + len(user_agent) > UA_CACHE_CHARS
        ):
            self._ua_cache.clear()
            self._ua_cache_chars = 0
        self._ua_cache[user_agent] = result
        self._ua_cache_chars += len(user_agent)
        return result


def install_ranges(
    data_dir: Path, text: str, *, name: str, reason: MachineReason, replace: bool
) -> tuple[str, int]:
    """Replace or extend IP range set `name` with the CIDRs of `text` (plain or CSV) and
    write the result to the data folder, atomically. Returns (new version, number of
    ranges in the set). Servers load rules once: they use the new file after a restart."""
    cidrs = read_cidrs(text)
    if not cidrs:
        raise RulesError("the file holds no IP ranges")
    target = ranges_path(data_dir)
    current = json.loads(target.read_text() if target.exists() else _packaged(RANGES_FILE))
    document = merge_ranges(current, name, reason, cidrs, replace=replace)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=1))
    tmp.replace(target)
    size = next(len(s["cidrs"]) for s in document["sets"] if s["name"] == name)
    return str(document["version"]), size
