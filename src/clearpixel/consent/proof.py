"""Proof of consent for one contact: every ledger entry with the exact notice text the person
was shown (checked against its SHA-256), the evidence, and the hash-chain links, in a form a
third party can check without clearpixel: `hashed_fields` serialised as sorted, compact UTF-8
JSON hashes (SHA-256) to `hash`, `prev_hash` equals the previous entry's `hash`, and the next
entry's `prev_hash` equals this `hash`. Each entry is also anchored to the first signed
checkpoint at or after it (R21): the chain from the entry to the checkpoint, every hash
recomputed, must end at the hash the checkpoint signs; and no checkpoint may contradict the
stored chain. `all_verified` is false otherwise.

`build_proof` returns plain data (JSON-ready); `render_proof_html` a printable page for a
data-protection officer. The admin UI can serve the same with `proof_for(ctx, email, list)`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from clearpixel.consent.checkpoints import Found, compare_stored, gather
from clearpixel.consent.forms import normalise_email
from clearpixel.context import Context
from clearpixel.domain.erasure import erased_keys
from clearpixel.domain.errors import NotFound
from clearpixel.domain.flags import Purposes
from clearpixel.domain.ledger import LedgerEntry
from clearpixel.domain.ledger_chain import (
    GENESIS_HASH,
    canonical,
    commitment,
    encode_evidence,
    segment_reaches,
)
from clearpixel.i18n import environment, purpose_label
from clearpixel.store.contacts import find_contact
from clearpixel.store.db import Tx
from clearpixel.store.ledger import entries_for_contact, iter_entries, origin
from clearpixel.store.lists import get_list
from clearpixel.store.notices import notices_by_id
from clearpixel.store.proof import head, neighbour_hashes
from clearpixel.store.subjects import erasure_record

FORMAT = "clearpixel-consent-proof/1"
TEMPLATES = Path(__file__).parent / "templates"
HASH_RULE = (
    "hash = SHA-256 (hex) of hashed_fields serialised as JSON with keys sorted, separators "
    "',' and ':', UTF-8 without escaping; 'at' is UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ. "
    "prev_hash must equal previous_entry_hash, and next_entry_prev_hash must equal hash. "
    'hashed_fields.personal = SHA-256 (hex) of salt followed by {"email":...,"evidence":...} '
    "serialised the same way: it commits to the address and evidence, which an erasure "
    "deletes (with the salt) while the chain still verifies."
)

CHECKPOINT_RULE = (
    "A checkpoint is signed (Ed25519) with a key kept outside the database; its signature "
    "covers the sorted, compact JSON of format, seq, hash, at and key_id. Check it with the "
    "installation's public key (`clearpixel ledger public-key`): entry `seq` of the ledger "
    "must have exactly `hash`, so no entry up to it can have been changed since `at`."
)


class UnknownSubject(NotFound):
    """No contact with that address in that list."""


def _names(purposes: Purposes, bits: int | None) -> list[str]:
    return purposes.names_in(bits)


def _iso(at: datetime) -> str:
    return at.isoformat()


def _entry(
    entry: LedgerEntry,
    purposes: Purposes,
    notice: dict[str, Any] | None,
    neighbours: tuple[str | None, str | None],
    first_prev: str = GENESIS_HASH,
) -> dict[str, Any]:
    hashed = json.loads(canonical(entry))
    recomputed = hashlib.sha256(canonical(entry)).hexdigest()
    before, after_prev = neighbours
    return {
        "seq": entry.seq,
        "at": _iso(entry.at),
        "method": entry.method,
        "granted": _names(purposes, entry.granted),
        "revoked": _names(purposes, entry.revoked),
        "flags_before": entry.flags_before,
        "flags_after": entry.flags_after,
        "actor": entry.actor,
        "evidence": dict(entry.evidence),
        "salt": entry.salt,
        "personal_erased": entry.erased,
        "personal_verified": None
        if entry.salt is None
        else commitment(entry.salt, entry.email, encode_evidence(entry.evidence)) == entry.personal,
        "notice": notice,
        "hashed_fields": hashed,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
        "hash_verified": recomputed == entry.hash,
        "previous_entry_hash": before,
        "next_entry_prev_hash": after_prev,
        "links_verified": (
            (before == entry.prev_hash if entry.seq > 1 else entry.prev_hash == first_prev)
            and (after_prev is None or after_prev == entry.hash)
        ),
    }


def proof_for(ctx: Context, email: str, list_name: str) -> dict[str, Any]:
    """The proof of consent of `email` in `list_name` (raises UnknownList, UnknownSubject).
    For an address that was erased, the proof says so and when, and shows the contact's
    entries without their personal fields (their commitments still chained and checked)."""
    address = normalise_email(email)
    erased: dict[str, Any] | None = None
    with ctx.db.connect() as conn:
        audience = get_list(conn, list_name)
        contact = find_contact(conn, audience.id, address)
        if contact is None:
            erased, contact_id = _erasure(conn, ctx, address, audience.id)
            if erased is None or contact_id is None:
                raise UnknownSubject(f"no contact {address!r} in list {list_name!r}")
        else:
            contact_id = contact.id
        entries = entries_for_contact(conn, contact_id)
        start = origin(conn)
        found = notices_by_id(conn, [e.notice_id for e in entries if e.notice_id is not None])
        links = neighbour_hashes(conn, [e.seq for e in entries])
        head_seq, head_hash = head(conn)
        anchors = gather(ctx.settings)
        contradicted = compare_stored(conn, anchors)
        anchored = _anchor(conn, [e.seq for e in entries], anchors)
    notices: dict[int, dict[str, Any]] = {}
    for item in found.values():
        notices[item.id] = {
            "id": item.id,
            "purpose": item.purpose,
            "locale": item.locale,
            "version": item.version,
            "text": item.text,
            "sha256": item.sha256,
            "sha256_verified": hashlib.sha256(item.text.encode()).hexdigest() == item.sha256,
        }
    out_entries = []
    for e in entries:
        notice: dict[str, Any] | None = (
            notices.get(e.notice_id) if e.notice_id is not None else None
        )
        if notice is not None:
            notice = {**notice, "matches_entry": notice["sha256"] == e.notice_sha256}
        first_prev = start[1] if start else GENESIS_HASH
        out_entries.append(
            {
                **_entry(e, ctx.purposes, notice, links[e.seq], first_prev),
                "anchor": anchored.get(e.seq),
            }
        )
    latest = max(
        (a.checkpoint for a in anchors if a.checkpoint is not None and not a.checkpoint.former),
        key=lambda c: c.seq,
        default=None,
    )
    return {
        "all_verified": all(_sound(x) for x in out_entries) and not contradicted,
        "format": FORMAT,
        "generated_at": _iso(ctx.now()),
        "organisation": ctx.settings.organisation,
        "contact": {
            "email": address,
            "list": audience.name,
            "status": contact.status if contact else "erased",
            "privacy_flags": contact.privacy_flags if contact else None,
            "purposes_granted": ctx.purposes.names_in(contact.privacy_flags) if contact else [],
            "locale": contact.locale if contact else None,
        },
        "erased": erased,
        "purposes": {p.name: p.bit for p in ctx.purposes},
        "hash_rule": HASH_RULE,
        "ledger_head": {"seq": head_seq, "hash": head_hash},
        "checkpoints": {
            "checked": len(anchors),
            "contradiction": contradicted or None,
            "latest": asdict(latest) if latest else None,
            "rule": CHECKPOINT_RULE,
        },
        "entries": out_entries,
    }


def _erasure(
    tx: Tx, ctx: Context, address: str, list_id: int
) -> tuple[dict[str, Any] | None, int | None]:
    """When `address` was erased: (what the proof says about it, the erased contact's id in
    the list), or (None, None)."""
    record = erasure_record(tx, erased_keys(ctx.settings.secret_keys, address))
    if record is None:
        return None, None
    since, evidence = record
    for seq in evidence.get("ledger", []):
        for entry in iter_entries(tx, after=int(seq) - 1, upto=int(seq)):
            if entry.list_id == list_id:
                said = {
                    "at": _iso(since),
                    "reason": entry.evidence.get("reason"),  # None past the proof window
                    "ledger_seq": seq,
                }
                return said, entry.contact_id
    return None, None


def _sound(entry: dict[str, Any]) -> bool:
    notice = entry["notice"]
    notice_ok = notice is None or (notice["sha256_verified"] and notice["matches_entry"])
    anchor = entry.get("anchor")
    anchor_ok = anchor is None or anchor["verified"]
    personal_ok = entry["personal_verified"] is not False
    return bool(
        entry["hash_verified"]
        and entry["links_verified"]
        and notice_ok
        and anchor_ok
        and personal_ok
    )


def _anchor(tx: Tx, seqs: list[int], anchors: list[Found]) -> dict[int, dict[str, Any]]:
    """For each entry, the first signed checkpoint at or after it and whether the chain from
    the entry to the checkpoint's seq, every hash recomputed, ends at the signed hash: then
    the entry is exactly what the chain held when the checkpoint was signed. An entry newer
    than every checkpoint has no anchor (None) yet."""
    signed = sorted(
        (a.checkpoint for a in anchors if a.checkpoint and not a.checkpoint.former),
        key=lambda c: c.seq,
    )
    result: dict[int, dict[str, Any]] = {}
    for seq in seqs:
        checkpoint = next((c for c in signed if c.seq >= seq), None)
        if checkpoint is None:
            continue
        segment = iter_entries(tx, after=seq - 1, upto=checkpoint.seq)
        result[seq] = {
            "checkpoint_seq": checkpoint.seq,
            "checkpoint_at": checkpoint.at,
            "verified": segment_reaches(segment, checkpoint.hash),
        }
    return result


def render_proof_html(proof: dict[str, Any], *, locale: str = "en") -> str:
    """A printable HTML page of `proof` (from `proof_for`)."""
    env = environment(locale, str(TEMPLATES))
    return env.get_template("proof.html").render(
        proof=proof, label=lambda name: purpose_label(name, locale)
    )


def proof_json(proof: dict[str, Any]) -> str:
    return json.dumps(proof, indent=2, ensure_ascii=False, default=str)
