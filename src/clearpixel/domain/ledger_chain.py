"""The ledger's hash chain: the canonical form of an entry, its hash, the commitment to its
personal fields, and the verification of a chain.

Entries form one chain for the whole installation: each holds the SHA-256 of the previous
entry, so an edited, removed or reordered entry breaks the chain at a place `verify_chain`
names (R11).

An entry's personal fields (the address and the evidence: IP, user agent, form text) are not
hashed in clear: the entry holds a salted commitment to them, `commitment(salt, email,
evidence)`, and the chain hashes the commitment. The fields and the salt (the opening) are
stored apart; erasing a person deletes the openings of their entries and the chain still
verifies, while an opening that remains is checked against its commitment.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from clearpixel.domain.flags import apply
from clearpixel.domain.ledger import Decision, LedgerEntry

GENESIS_HASH = "0" * 64


_HASHED = (
    "seq",
    "contact_id",
    "list_id",
    "at",
    "method",
    "granted",
    "revoked",
    "flags_before",
    "flags_after",
    "actor",
    "notice_id",
    "notice_sha256",
    "personal",
    "prev_hash",
)


@lru_cache(maxsize=256)
def _timestamp(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_string = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) writes
# The canonical form is JSON with sorted keys and no spaces. It is written from this template
# (keys already in sorted order) because a bulk change chains a million entries and the generic
# `json.dumps(..., sort_keys=True)` costs several times more; a test holds the two equal.
_TEMPLATE = (
    '{"actor":%s,"at":"%s","contact_id":%d,"flags_after":%d,'
    '"flags_before":%s,"granted":%d,"list_id":%d,"method":%s,"notice_id":%s,'
    '"notice_sha256":%s,"personal":%s,"prev_hash":%s,"revoked":%d,"seq":%d}'
)


def commitment(salt: str, email: str, evidence_json: str) -> str:
    """SHA-256 (hex) of the salt followed by the personal fields as canonical JSON
    (`{"email":...,"evidence":...}`, evidence as `encode_evidence` writes it). Without the
    salt (128 random bits, kept with the fields) it says nothing about them."""
    text = f'{salt}{{"email":{_string(email)},"evidence":{evidence_json}}}'
    return hashlib.sha256(text.encode()).hexdigest()


def _evidence_json(evidence: Mapping[str, Any]) -> str:
    return json.dumps(dict(evidence), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(
    *,
    seq: int,
    contact_id: int,
    list_id: int,
    at: datetime,
    method: str,
    granted: int,
    revoked: int,
    flags_before: int | None,
    flags_after: int,
    actor: str,
    notice_id: int | None,
    notice_sha256: str | None,
    personal: str,
    prev_hash: str,
) -> bytes:
    return (
        _TEMPLATE
        % (
            _string(actor),
            _timestamp(at),
            contact_id,
            flags_after,
            "null" if flags_before is None else int(flags_before),
            granted,
            list_id,
            _string(str(method)),
            "null" if notice_id is None else int(notice_id),
            "null" if notice_sha256 is None else _string(notice_sha256),
            _string(personal),
            _string(prev_hash),
            revoked,
            seq,
        )
    ).encode()


def canonical(entry: LedgerEntry | Mapping[str, Any]) -> bytes:
    """The bytes that an entry's hash covers: every field but `hash` and the opening (email,
    evidence, salt), which the commitment `personal` stands for, as sorted JSON."""
    fields: Mapping[str, Any] = (
        entry if isinstance(entry, Mapping) else {k: getattr(entry, k) for k in _HASHED}
    )
    get = fields.__getitem__
    return _canonical(
        seq=get("seq"),
        contact_id=get("contact_id"),
        list_id=get("list_id"),
        at=get("at"),
        method=get("method"),
        granted=get("granted"),
        revoked=get("revoked"),
        flags_before=get("flags_before"),
        flags_after=get("flags_after"),
        actor=get("actor"),
        notice_id=get("notice_id"),
        notice_sha256=get("notice_sha256"),
        personal=get("personal"),
        prev_hash=get("prev_hash"),
    )


def entry_hash(fields: LedgerEntry | Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical form of an entry."""
    return hashlib.sha256(canonical(fields)).hexdigest()


def chain(
    decision: Decision,
    *,
    seq: int,
    flags_before: int | None,
    prev_hash: str,
    salt: str,
    evidence_json: str | None = None,
) -> LedgerEntry:
    """Turn a decision into the next entry of the chain, computing flags_after, the
    commitment to its personal fields under `salt` (fresh random hex for each entry) and the
    hash.

    `evidence_json` may pass the decision's evidence already encoded (a batch that shares one
    evidence mapping encodes it once); it must be `_evidence_json(decision.evidence)`.
    """
    flags_after = apply(flags_before, granted=decision.granted, revoked=decision.revoked)
    method = str(decision.method)
    personal = commitment(salt, decision.email, evidence_json or _evidence_json(decision.evidence))
    digest = hashlib.sha256(
        _canonical(
            seq=seq,
            contact_id=decision.contact_id,
            list_id=decision.list_id,
            at=decision.at,
            method=method,
            granted=decision.granted,
            revoked=decision.revoked,
            flags_before=flags_before,
            flags_after=flags_after,
            actor=decision.actor,
            notice_id=decision.notice_id,
            notice_sha256=decision.notice_sha256,
            personal=personal,
            prev_hash=prev_hash,
        )
    ).hexdigest()
    return LedgerEntry(
        seq,
        decision.contact_id,
        decision.list_id,
        decision.email,
        decision.at,
        method,
        decision.granted,
        decision.revoked,
        flags_before,
        flags_after,
        decision.actor,
        decision.notice_id,
        decision.notice_sha256,
        dict(decision.evidence),
        prev_hash,
        digest,
        personal,
        salt,
    )


def batch_hasher(
    *,
    list_id: int,
    method: str,
    at: datetime,
    actor: str,
    notice_id: int | None = None,
    notice_sha256: str | None = None,
) -> Callable[[int, int, str, int | None, int, int, int, str], str]:
    """For a batch in which every entry shares list, method, time, actor and notice (a bulk
    change, an import): a function `(seq, contact_id, personal, flags_before, flags_after,
    granted, revoked, prev_hash) -> hash` that gives the same hash as `entry_hash`, with the
    shared fields written into the template once. `personal` is the entry's
    `commitment(salt, email, encode_evidence(evidence))`.
    """
    fixed = {
        "actor": _string(actor),
        "at": _timestamp(at),
        "list_id": str(int(list_id)),
        "method": _string(str(method)),
        "notice_id": "null" if notice_id is None else str(int(notice_id)),
        "notice_sha256": "null" if notice_sha256 is None else _string(notice_sha256),
    }
    template = _TEMPLATE.replace("%d", "%s") % tuple(
        fixed[name].replace("%", "%%") if name in fixed else _KEEP[name] for name in _TEMPLATE_ORDER
    )
    string, sha256 = _string, hashlib.sha256

    def digest(
        seq: int,
        contact_id: int,
        personal: str,
        before: int | None,
        after: int,
        granted: int,
        revoked: int,
        prev: str,
    ) -> str:
        text = template % (
            contact_id,
            after,
            "null" if before is None else before,
            granted,
            string(personal),
            string(prev),
            revoked,
            seq,
        )
        return sha256(text.encode()).hexdigest()

    return digest


# The template's placeholders in order; the varying ones are kept as placeholders.
_TEMPLATE_ORDER = (
    "actor",
    "at",
    "contact_id",
    "flags_after",
    "flags_before",
    "granted",
    "list_id",
    "method",
    "notice_id",
    "notice_sha256",
    "personal",
    "prev_hash",
    "revoked",
    "seq",
)
_KEEP = {
    "contact_id": "%d",
    "flags_after": "%d",
    "flags_before": "%s",
    "granted": "%d",
    "personal": "%s",
    "prev_hash": "%s",
    "revoked": "%d",
    "seq": "%d",
}


def encode_evidence(evidence: Mapping[str, Any]) -> str:
    """The canonical JSON of an evidence mapping, to pass to `chain` for a whole batch."""
    return _evidence_json(evidence)


@dataclass(frozen=True, slots=True)
class ChainFault:
    """The first place where the chain does not hold."""

    seq: int
    problem: str


class ChainVerifier:
    """Checks entries one at a time, in seq order, so a large ledger streams through it."""

    def __init__(self, *, origin_hash: str | None = None) -> None:
        # A re-chained ledger starts from the hash of the former chain's head (`origin_hash`)
        self.prev_hash = origin_hash or GENESIS_HASH
        self.expected_seq = 1
        self.count = 0
        self.erased = 0
        self.flags: dict[int, int | None] = {}

    def feed(self, entry: LedgerEntry) -> ChainFault | None:
        """Check one entry against the previous ones; returns the fault, if any."""
        if entry.seq != self.expected_seq:
            what = "missing" if entry.seq > self.expected_seq else "out of order"
            return ChainFault(self.expected_seq, f"entry {self.expected_seq} is {what}")
        if entry.prev_hash != self.prev_hash:
            return ChainFault(entry.seq, "prev_hash does not match the previous entry")
        if entry_hash(entry) != entry.hash:
            return ChainFault(entry.seq, "content does not match its hash (entry was edited)")
        if entry.salt is None:
            self.erased += 1
        elif commitment(entry.salt, entry.email, _evidence_json(entry.evidence)) != entry.personal:
            return ChainFault(
                entry.seq, "personal fields do not match their commitment (they were edited)"
            )
        before = self.flags.get(entry.contact_id)
        expected = apply(before, granted=entry.granted, revoked=entry.revoked)
        if entry.flags_before != before or entry.flags_after != expected:
            return ChainFault(entry.seq, "flags_before/flags_after do not follow the history")
        self.flags[entry.contact_id] = expected
        self.prev_hash = entry.hash
        self.expected_seq += 1
        self.count += 1
        return None


def verify_chain(entries: Iterable[LedgerEntry]) -> ChainFault | None:
    """Verify a whole chain from the genesis; None when sound."""
    verifier = ChainVerifier()
    for entry in entries:
        fault = verifier.feed(entry)
        if fault:
            return fault
    return None


def segment_reaches(entries: Iterable[LedgerEntry], target_hash: str) -> bool:
    """True when `entries` (consecutive, in seq order) chain from the first to a last entry
    whose recomputed hash is `target_hash`: each entry's hash recomputed from its content,
    each `prev_hash` equal to the previous entry's. Anchors every entry of the segment to a
    signed checkpoint of its last seq."""
    expected_seq: int | None = None
    computed: str | None = None
    for entry in entries:
        if expected_seq is not None and (entry.seq != expected_seq or entry.prev_hash != computed):
            return False
        computed = entry_hash(entry)
        expected_seq = entry.seq + 1
    return computed == target_hash
