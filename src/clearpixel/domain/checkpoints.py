"""Signed checkpoints of the ledger head (DESIGN R21): proof that survives whoever controls
the database.

A checkpoint says "at time T the chain ended at entry N, whose hash was H", signed with an
Ed25519 key kept outside the database. Anyone holding the public key can check the signature
and then check a chain against it: a chain that now ends before N was truncated; a chain whose
entry N has another hash was rewritten, even if every later hash was recomputed to match.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from clearpixel.domain.errors import ClearpixelError

# /2: a head of the chain whose entries commit to their personal fields (migration 0019);
# /1: a head of the former chain, which hashed them in clear.
FORMAT = "clearpixel-ledger-checkpoint/2"
FORMER_FORMAT = "clearpixel-ledger-checkpoint/1"


class CheckpointError(ClearpixelError, ValueError):
    """A checkpoint that cannot be read; the message names the problem."""


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    return hashlib.sha256(public_bytes(key)).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The signed statement that the chain ended at `seq` with `hash` at time `at`."""

    seq: int
    hash: str
    at: str
    key_id: str
    public_key: str
    signature: str
    format: str = FORMAT

    def signed_bytes(self) -> bytes:
        """What the signature covers: format, seq, hash, at and key id as sorted, compact
        JSON (UTF-8)."""
        return signed_message(
            seq=self.seq, hash=self.hash, at=self.at, key=self.key_id, format=self.format
        )

    @property
    def former(self) -> bool:
        """A checkpoint of the former chain, before the ledger was re-chained."""
        return self.format == FORMER_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def signed_message(*, seq: int, hash: str, at: str, key: str, format: str = FORMAT) -> bytes:
    body = {"format": format, "seq": seq, "hash": hash, "at": at, "key_id": key}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(private_key: Ed25519PrivateKey, *, seq: int, hash: str, at: str) -> Checkpoint:
    """A checkpoint of the head (`seq`, `hash`) at `at` (ISO 8601, UTC)."""
    public = private_key.public_key()
    kid = key_id(public)
    signature = private_key.sign(signed_message(seq=seq, hash=hash, at=at, key=kid))
    return Checkpoint(
        seq,
        hash,
        at,
        kid,
        base64.b64encode(public_bytes(public)).decode(),
        base64.b64encode(signature).decode(),
    )


def from_json(text: str) -> Checkpoint:
    """Parse a checkpoint; raises CheckpointError when it is not one."""
    try:
        data: dict[str, Any] = json.loads(text)
        if data.get("format") not in (FORMAT, FORMER_FORMAT):
            raise CheckpointError(f"not a {FORMAT} document")
        return Checkpoint(
            seq=int(data["seq"]),
            hash=str(data["hash"]),
            at=str(data["at"]),
            key_id=str(data["key_id"]),
            public_key=str(data["public_key"]),
            signature=str(data["signature"]),
            format=str(data["format"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"not a readable checkpoint: {exc}") from exc


def signature_ok(checkpoint: Checkpoint, trusted: list[Ed25519PublicKey]) -> bool:
    """True when one of the `trusted` keys signed exactly this checkpoint. The public key the
    checkpoint carries is never trusted by itself: a forger would carry their own."""
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
    except ValueError:
        return False
    for key in trusted:
        if key_id(key) != checkpoint.key_id:
            continue
        try:
            key.verify(signature, checkpoint.signed_bytes())
            return True
        except InvalidSignature:
            return False
    return False


def contradiction(checkpoint: Checkpoint, *, chain_end: int, hash_at_seq: str | None) -> str:
    """What the chain does that the checkpoint rules out ("" when they agree): `chain_end`
    is the seq of the chain's last entry, `hash_at_seq` the chain's hash of entry
    `checkpoint.seq` (None when there is no such entry)."""
    if checkpoint.seq > chain_end or (checkpoint.seq > 0 and hash_at_seq is None):
        return (
            f"the checkpoint of {checkpoint.at} says the ledger reached entry {checkpoint.seq}; "
            f"it now ends at {chain_end}: entries were removed (truncated ledger)"
        )
    if checkpoint.seq > 0 and hash_at_seq != checkpoint.hash:
        return (
            f"entry {checkpoint.seq} does not have the hash signed in the checkpoint of "
            f"{checkpoint.at}: history up to that entry was rewritten"
        )
    return ""


def former_contradiction(
    checkpoint: Checkpoint, *, origin_seq: int | None, origin_hash: str | None
) -> str:
    """What a checkpoint of the former chain says against the re-chained ledger ("" when
    nothing): the former chain ended at `origin_seq` with `origin_hash` (entry 1's
    prev_hash), so a checkpoint of its head must sign that hash and none may lie beyond it.
    Checkpoints of earlier heads of the former chain cannot be compared (its hashes are
    gone) and say nothing."""
    if origin_seq is None:
        return (
            f"the checkpoint of {checkpoint.at} signs a ledger in the former format, but this "
            "ledger was never re-chained"
        )
    if checkpoint.seq > origin_seq:
        return (
            f"the checkpoint of {checkpoint.at} says the former ledger reached entry "
            f"{checkpoint.seq}; it ended at {origin_seq} when it was re-chained"
        )
    if checkpoint.seq == origin_seq and checkpoint.hash != origin_hash:
        return (
            f"the checkpoint of {checkpoint.at} signs another hash for entry {checkpoint.seq}, "
            "the former ledger's head, than the re-chained ledger records"
        )
    return ""
