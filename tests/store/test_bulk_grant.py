"""The set-based grant writes exactly the entries `record_decisions` would: same fields, same
hashes, chained in id order, flags NULL-safe, contacts already holding the bit untouched."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from clearpixel.consent.decisions import record_bulk_grant, record_changes
from clearpixel.domain.flags import apply
from clearpixel.domain.ledger import Decision, Method
from clearpixel.domain.ledger_chain import (
    batch_hasher,
    chain,
    commitment,
    encode_evidence,
    entry_hash,
)
from clearpixel.store.contacts import insert_contacts
from clearpixel.store.ledger import entries_for_contact, iter_entries, read_head
from clearpixel.store.schema import contacts
from tests.helpers import make_contacts, make_list
from tests.store.test_ledger_writers import assert_sound

# Addresses a COPY line or the JSON template could mangle.
AWKWARD = ["tab\tin@example.org", "back\\slash@example.org", "pct%d@example.org", "é@exämple.org"]


def column(conn, col):
    return {row.id: row[1] for row in conn.execute(sa.select(contacts.c.id, col))}


@given(
    seq=st.integers(1, 2**40),
    contact_id=st.integers(1, 2**31 - 1),
    email=st.text(max_size=40),
    before=st.none() | st.integers(0, 2**20),
    granted=st.integers(0, 2**20),
    revoked=st.integers(0, 2**20),
    actor=st.text(max_size=20),
    basis=st.text(max_size=30),
    notice_id=st.none() | st.integers(1, 1000),
    salt=st.text("0123456789abcdef", min_size=32, max_size=32),
)
def test_batch_hasher_matches_entry_hash(
    seq, contact_id, email, before, granted, revoked, actor, basis, notice_id, salt
):
    at = datetime.fromisoformat("2026-11-29T01:02:03.456789+00:00")
    evidence = {"basis": basis}
    sha = None if notice_id is None else "ab" * 32
    decision = Decision(
        contact_id=contact_id, list_id=7, email=email, granted=granted, revoked=revoked,
        method=Method.BULK, at=at, actor=actor, notice_id=notice_id, notice_sha256=sha,
        evidence=evidence,
    )  # fmt: skip
    entry = chain(decision, seq=seq, flags_before=before, prev_hash="f" * 64, salt=salt)
    digest = batch_hasher(
        list_id=7, method=Method.BULK, at=at, actor=actor, notice_id=notice_id, notice_sha256=sha
    )
    after = apply(before, granted=granted, revoked=revoked)
    personal = commitment(salt, email, encode_evidence(evidence))
    assert entry.personal == personal
    assert entry.hash == digest(
        seq, contact_id, personal, before, after, granted, revoked, "f" * 64
    )  # fmt: skip
    assert entry_hash(entry) == entry.hash


def test_bulk_grant_writes_the_entries_record_decisions_would(ctx):
    list_id = make_list(ctx)
    existing = make_contacts(ctx, list_id, [None, 0, 1, 6, 7, None, 2])
    with ctx.db.begin() as tx:
        awkward = insert_contacts(
            tx,
            [{"list_id": list_id, "email": e, "attributes": {}} for e in AWKWARD],
            now=ctx.now(),
        )
        stamps_before = column(tx, contacts.c.updated_at)
    with ctx.db.connect() as conn:
        start_seq, start_hash = read_head(conn)
    evidence = {"basis": '100% documented "interest"\n'}
    with ctx.db.begin() as tx:
        changed = record_bulk_grant(
            tx, list_id, bit=1, only_null=False, now=ctx.now(), actor="cli:%s", evidence=evidence,
            progress=None,
        )  # fmt: skip
    targets = [existing[i] for i in (0, 1, 3, 5, 6)] + awkward
    assert changed == len(targets)
    entries = assert_sound(ctx)
    written = [e for e in entries if e.seq > start_seq]
    assert [e.contact_id for e in written] == sorted(targets)

    # Rebuild each entry through the generic chain: identical, hash included.
    prev, flags_of = start_hash, dict(zip(existing, [None, 0, 1, 6, 7, None, 2], strict=True))
    emails = {cid: f"person{i}@example.org" for i, cid in enumerate(existing)}
    emails |= dict(zip(awkward, AWKWARD, strict=True))
    for entry in written:
        decision = Decision(
            contact_id=entry.contact_id, list_id=list_id, email=emails[entry.contact_id],
            granted=1, revoked=0, method=Method.BULK, at=ctx.now(), actor="cli:%s",
            evidence=evidence,
        )  # fmt: skip
        expected = chain(
            decision,
            seq=entry.seq,
            flags_before=flags_of.get(entry.contact_id),
            prev_hash=prev,
            salt=entry.salt,
        )
        assert entry.at.replace(tzinfo=UTC) == expected.at  # SQLite reads back naive UTC
        assert replace(entry, at=expected.at) == expected
        prev = entry.hash

    with ctx.db.connect() as conn:
        rows = column(conn, contacts.c.privacy_flags)
        stamps = column(conn, contacts.c.updated_at)
        assert entries_for_contact(conn, existing[2])[-1].seq <= start_seq
    assert [rows[c] for c in existing] == [1, 1, 1, 7, 7, 1, 3]
    assert all(rows[c] == 1 for c in awkward)
    for untouched in (existing[2], existing[4]):
        assert stamps[untouched] == stamps_before[untouched]


def test_bulk_grant_only_null_leaves_refusals_alone(ctx):
    list_id = make_list(ctx)
    ids = make_contacts(ctx, list_id, [None, 0, 2, None])
    with ctx.db.begin() as tx:
        changed = record_bulk_grant(
            tx, list_id, bit=1, only_null=True, now=ctx.now(), actor="", evidence={"basis": "b"}
        )
    assert changed == 2
    entries = assert_sound(ctx)
    assert [(e.contact_id, e.flags_before, e.flags_after) for e in entries[-2:]] == [
        (ids[0], None, 1),
        (ids[3], None, 1),
    ]
    with ctx.db.connect() as conn:
        rows = column(conn, contacts.c.privacy_flags)
    assert [rows[c] for c in ids] == [1, 0, 2, 1]


# Text a database stores: PostgreSQL refuses NUL in text and in JSON (inputs never hold it:
# addresses are checked, and import refuses NUL cells).
STORABLE = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                   max_size=24)  # fmt: skip


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    people=st.lists(
        st.tuples(
            STORABLE.filter(bool),  # any address text, tabs and backslashes too
            st.dictionaries(STORABLE, STORABLE, max_size=3),
            st.none() | st.integers(0, 7),
        ),
        min_size=1,
        max_size=6,
    )
)
@example(people=[("a@example.org", {}, 1)])  # a batch in which nothing changes
def test_set_wise_writes_store_what_entry_hash_and_the_commitment_say(ctx, people):
    """Whatever the address and evidence, the set-wise writer (COPY on PostgreSQL, rows on
    SQLite) stores entries whose recomputed hash and commitment hold, and which `chain`
    rebuilds exactly from the same salt: entry_hash, the batch hasher and the COPY path
    agree."""
    list_id = make_list(ctx, f"prop-{uuid.uuid4().hex[:8]}")
    ids = make_contacts(ctx, list_id, [before for _, _, before in people])
    with ctx.db.connect() as conn:
        start = read_head(conn)
    changes = [
        (cid, email, before, 0, 1, 2, encode_evidence(evidence))
        for cid, (email, evidence, before) in zip(ids, people, strict=True)
    ]
    at = ctx.now()
    with ctx.db.begin() as tx:
        record_changes(
            tx, [changes], list_id=list_id, method=Method.BULK, now=at, cooldown=ctx.cooldown
        )
    with ctx.db.connect() as conn:
        written = [e for e in iter_entries(conn, after=start[0])]
    prev = start[1]
    by_contact = {cid: (email, evidence, before) for cid, (email, evidence, before) in
                  zip(ids, people, strict=True)}  # fmt: skip
    for entry in written:
        email, evidence, _ = by_contact[entry.contact_id]
        assert (entry.email, dict(entry.evidence)) == (email, evidence)
        assert entry.salt is not None
        assert commitment(entry.salt, email, encode_evidence(evidence)) == entry.personal
        assert entry_hash(entry) == entry.hash and entry.prev_hash == prev
        rebuilt = chain(
            Decision(contact_id=entry.contact_id, list_id=list_id, email=email,
                     granted=entry.granted, revoked=entry.revoked, method=Method.BULK, at=at,
                     evidence=evidence),
            seq=entry.seq, flags_before=entry.flags_before, prev_hash=prev, salt=entry.salt,
        )  # fmt: skip
        assert rebuilt.hash == entry.hash
        prev = entry.hash
