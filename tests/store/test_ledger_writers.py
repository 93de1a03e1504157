"""The single write path under load: concurrent writers, and large batches (which take the
COPY path on PostgreSQL) chain exactly like small ones."""

import hashlib
import json
import threading
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearpixel.consent import record_decision, record_decisions
from clearpixel.domain.flags import apply
from clearpixel.domain.ledger import Decision, Method, fold
from clearpixel.domain.ledger_chain import canonical, commitment, encode_evidence, verify_chain
from clearpixel.store import ledger as store_ledger
from clearpixel.store.contacts import iter_all_flags
from clearpixel.store.ledger import iter_entries, read_head
from tests.helpers import make_contacts, make_list


def assert_sound(ctx):
    with ctx.db.connect() as conn:
        entries = list(iter_entries(conn))
        assert verify_chain(entries) is None
        folded = fold(entries)
        for cid, flags in iter_all_flags(conn):
            assert folded.get(cid) == flags
        assert read_head(conn) == (entries[-1].seq, entries[-1].hash)
    return entries


@pytest.mark.postgres_only
def test_concurrent_writers_on_overlapping_contacts_leave_a_sound_chain(ctx):
    ids = make_contacts(ctx, make_list(ctx), [None] * 6)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(25):
                cid = ids[(n + i) % len(ids)]
                bit = 1 << ((n + i) % 3)
                record_decision(
                    ctx.db,
                    cid,
                    granted=bit if i % 2 == 0 else 0,
                    revoked=0 if i % 2 == 0 else bit,
                    method=Method.PREFERENCE_PAGE,
                    now=ctx.now() + timedelta(seconds=i),
                    cooldown=ctx.cooldown,
                )
        except BaseException as exc:  # reported below, with the thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    entries = assert_sound(ctx)
    assert len(entries) == 200  # choices a person makes are logged even without a change


def test_a_large_batch_chains_like_single_decisions(ctx):
    """Above BULK_THRESHOLD decisions PostgreSQL writes through COPY; the result must be the
    same entries, flags and head as the plain path."""
    n = store_ledger.BULK_THRESHOLD + 20
    list_id = make_list(ctx)
    ids = make_contacts(ctx, list_id, [None, 0, 1, 6] * (n // 4 + 1))[:n]
    evidence = {"basis": "large batch", "note": 'naïve \\ "quoted"\ttab'}
    decisions = [
        Decision(
            contact_id=cid,
            list_id=list_id,
            email=f"person{i}@example.org",
            granted=1 if i % 3 else 0,
            revoked=0 if i % 3 else 2,
            method=Method.BULK,
            at=ctx.now(),
            evidence=evidence,
        )
        for i, cid in enumerate(ids)
    ]
    decisions.append(decisions[0])  # the same contact twice in one batch
    with ctx.db.connect() as conn:
        before = {cid: f for cid, f in iter_all_flags(conn)}
    with ctx.db.begin() as tx:
        result = record_decisions(tx, decisions, cooldown=ctx.cooldown, keep_unchanged=False)
    entries = assert_sound(ctx)
    expected = dict(before)
    for d in decisions:
        expected[d.contact_id] = apply(expected[d.contact_id], granted=d.granted, revoked=d.revoked)
    changed = {e.contact_id for e in result.entries}
    assert changed == {cid for cid in ids if expected[cid] != before[cid]}
    stored = entries[-len(result.entries) :]
    assert [e.hash for e in stored] == [e.hash for e in result.entries]
    assert stored[0].evidence == evidence


# --- the canonical form: the fast template equals sorted JSON -------------------------------


def reference_canonical(fields) -> bytes:
    """The canonical form as first defined: json.dumps with sorted keys."""
    from clearpixel.domain.ledger_chain import _timestamp

    payload = dict(fields)
    payload["at"] = _timestamp(payload["at"])
    payload.pop("hash", None)
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


text = st.text(max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@given(
    seq=st.integers(1, 2**40),
    contact_id=st.integers(1, 2**31),
    personal=text,
    actor=text,
    method=st.sampled_from(list(Method)),
    granted=st.integers(0, 2**30),
    revoked=st.integers(0, 2**30),
    before=st.none() | st.integers(0, 2**31),
    after=st.integers(0, 2**31),
    notice=st.none() | st.integers(1, 2**31),
    sha=st.none() | text,
    at=st.datetimes(timezones=st.just(__import__("datetime").UTC)),
)
def test_canonical_template_equals_sorted_json(
    seq,
    contact_id,
    personal,
    actor,
    method,
    granted,
    revoked,
    before,
    after,
    notice,
    sha,
    at,
):
    fields = {
        "seq": seq,
        "contact_id": contact_id,
        "list_id": 3,
        "at": at,
        "method": str(method),
        "granted": granted,
        "revoked": revoked,
        "flags_before": before,
        "flags_after": after,
        "actor": actor,
        "notice_id": notice,
        "notice_sha256": sha,
        "personal": personal,
        "prev_hash": "f" * 64,
    }
    assert canonical(fields) == reference_canonical(fields)


@given(
    salt=st.text("0123456789abcdef", min_size=32, max_size=32),
    email=text,
    evidence=st.dictionaries(text, json_values, max_size=4),
)
def test_commitment_is_sha256_of_salt_and_sorted_json_of_the_personal_fields(salt, email, evidence):
    opening = json.dumps(
        {"email": email, "evidence": evidence},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    expected = hashlib.sha256((salt + opening).encode()).hexdigest()
    assert commitment(salt, email, encode_evidence(evidence)) == expected
