"""Proof that survives whoever controls the database (R21), attacked as the application's
own database role could: triggers dropped, a refusal rewritten as a grant with every later
hash recomputed (and the flags made to match), the newest entries deleted and the head rolled
back. The chain alone then looks sound; signed checkpoints kept outside the database catch
both, in `ledger verify`, `flags check`, `check` and the proof of consent."""

from __future__ import annotations

import json
from dataclasses import replace
from unittest.mock import ANY

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearpixel.consent import record_decision
from clearpixel.consent.checkpoints import ensure_ledger_key, public_key_path
from clearpixel.consent.proof import proof_for
from clearpixel.domain import checkpoints as signed
from clearpixel.domain.ledger import Method
from clearpixel.domain.ledger_chain import commitment, encode_evidence, entry_hash
from clearpixel.store.ledger import iter_entries
from tests.helpers import make_contacts, make_list


@pytest.fixture
def ledger(ctx):
    """Entries 1-3 grant open tracking to three contacts; entry 4 is contact 1's refusal."""
    ensure_ledger_key(ctx.settings)
    ids = make_contacts(ctx, make_list(ctx), [None, None, None])
    for cid in ids:
        record_decision(
            ctx.db, cid, granted=1, method=Method.API, now=ctx.now(), cooldown=ctx.cooldown
        )
    record_decision(
        ctx.db, ids[0], revoked=1, method=Method.CONSENT_PAGE, now=ctx.now(), cooldown=ctx.cooldown
    )
    ctx.contact_ids = ids
    return ctx


def sql(ctx, text: str) -> str:
    return text if ctx.db.is_postgres else text.replace("%s", "?")


def drop_triggers(tx, ctx) -> None:
    """What the role that owns the table may do (the application's, unless `init
    --db-owner` separated them)."""
    if ctx.db.is_postgres:
        tx.exec_driver_sql("DROP TRIGGER consent_ledger_no_change ON consent_ledger")
    else:
        for name in ("no_update", "no_delete", "no_replace"):
            tx.exec_driver_sql(f"DROP TRIGGER consent_ledger_{name}")


def rewrite_refusal_as_grant(ctx) -> None:
    """Entry 4 (a refusal) becomes a grant; no later entry, so its own hash is recomputed,
    the head follows and the contact's flags are set to the forged history."""
    with ctx.db.connect() as conn:
        entries = list(iter_entries(conn))
    forged = replace(entries[3], granted=1, revoked=0, flags_before=1, flags_after=1)
    forged = replace(forged, hash=entry_hash(forged))
    with ctx.db.begin() as tx:
        drop_triggers(tx, ctx)
        tx.exec_driver_sql(
            sql(ctx, "UPDATE consent_ledger SET granted = 1, revoked = 0, flags_after = 1, "
                "hash = %s WHERE seq = 4"),
            (forged.hash,),
        )  # fmt: skip
        tx.exec_driver_sql(sql(ctx, "UPDATE ledger_head SET hash = %s"), (forged.hash,))
        tx.exec_driver_sql(  # the contact's own refusal goes with the entry that recorded it
            sql(ctx, "UPDATE contacts SET privacy_flags = 1, refused_flags = 0 WHERE id = %s"),
            (forged.contact_id,),
        )


def given_to_someone_else(tx, ctx, entry):  # type: ignore[no-untyped-def]
    """The entry's opening and commitment rewritten to another address (consistently)."""
    other = "someone-else@example.org"
    assert entry.salt is not None
    tx.exec_driver_sql(
        sql(ctx, "UPDATE ledger_personal SET email = %s WHERE seq = %s"), (other, entry.seq)
    )
    personal = commitment(entry.salt, other, encode_evidence(entry.evidence))
    return replace(entry, email=other, personal=personal)


def rewrite_second_entry_and_recompute(ctx) -> None:
    """Entry 2 is given to another address and every later hash recomputed."""
    with ctx.db.connect() as conn:
        entries = list(iter_entries(conn))
    prev = entries[0].hash
    with ctx.db.begin() as tx:
        drop_triggers(tx, ctx)
        for entry in entries[1:]:
            changed = replace(entry, prev_hash=prev)
            if entry.seq == 2:
                changed = given_to_someone_else(tx, ctx, changed)
            changed = replace(changed, hash=entry_hash(changed))
            tx.exec_driver_sql(
                sql(ctx, "UPDATE consent_ledger SET personal = %s, prev_hash = %s, hash = %s "
                    "WHERE seq = %s"),
                (changed.personal, changed.prev_hash, changed.hash, changed.seq),
            )  # fmt: skip
            prev = changed.hash
        tx.exec_driver_sql(sql(ctx, "UPDATE ledger_head SET hash = %s"), (prev,))


def truncate_newest(ctx) -> None:
    """Entries 3 and 4 deleted, the head rolled back to entry 2, flags set to match."""
    with ctx.db.connect() as conn:
        second = list(iter_entries(conn))[1]
    with ctx.db.begin() as tx:
        drop_triggers(tx, ctx)
        tx.exec_driver_sql("DELETE FROM consent_ledger WHERE seq >= 3")
        tx.exec_driver_sql(sql(ctx, "UPDATE ledger_head SET seq = 2, hash = %s"), (second.hash,))
        tx.exec_driver_sql(
            sql(ctx, "UPDATE contacts SET privacy_flags = NULL WHERE id = %s"),
            (ctx.contact_ids[2],),
        )
        tx.exec_driver_sql(
            sql(ctx, "UPDATE contacts SET privacy_flags = 1, refused_flags = 0 WHERE id = %s"),
            (ctx.contact_ids[0],),
        )


ATTACKS = {
    "refusal rewritten as grant": (rewrite_refusal_as_grant, "was rewritten"),
    "history rewritten, later hashes recomputed": (
        rewrite_second_entry_and_recompute,
        "was rewritten",
    ),
    "newest entries deleted, head rolled back": (truncate_newest, "truncated ledger"),
}


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_without_a_checkpoint_the_attack_leaves_every_check_green(cli, ledger, attack):
    """The attack is one a chain alone cannot show: this is what checkpoints are for."""
    ATTACKS[attack][0](ledger)
    assert cli("ledger", "verify", ok=False).exit_code == 0
    assert cli("flags", "check", ok=False).exit_code == 0


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_a_signed_checkpoint_catches_the_attack_everywhere(cli, ledger, attack, tmp_path):
    written = cli("ledger", "checkpoint")
    kept = json.loads(written.stdout)  # what the DPO keeps
    assert kept["seq"] == 4
    forge, expected = ATTACKS[attack]
    forge(ledger)

    result = cli("ledger", "verify", ok=False)
    assert result.exit_code == 1
    assert expected in result.output

    result = cli("flags", "check", ok=False)
    assert result.exit_code == 1
    assert expected in result.output
    assert "fold(ledger) == flags for all" not in result.output

    result = cli("check", "--json", ok=False)
    assert result.exit_code == 1
    findings = {f["topic"]: f for f in json.loads(result.stdout)}
    assert findings["consent ledger"]["status"] == "not compliant"
    assert expected in findings["consent ledger"]["detail"]

    proof = proof_for(ledger, "person0@example.org", "newsletter")
    assert proof["all_verified"] is False
    assert expected in proof["checkpoints"]["contradiction"]


def test_a_sound_ledger_agrees_with_its_checkpoints(cli, ledger):
    cli("ledger", "checkpoint")
    record_decision(
        ledger.db,
        ledger.contact_ids[1],
        revoked=1,
        method=Method.API,
        now=ledger.now(),
        cooldown=ledger.cooldown,
    )  # the ledger grows past the checkpoint: that is no contradiction
    cli("ledger", "checkpoint")
    result = cli("ledger", "verify")
    assert "5 entries, chain intact, agrees with 2 signed checkpoint(s)" in result.output
    assert cli("flags", "check").exit_code == 0
    proof = proof_for(ledger, "person0@example.org", "newsletter")
    assert proof["all_verified"] is True
    assert proof["checkpoints"]["latest"]["seq"] == 5


def test_the_dpo_copy_and_pinned_key_outlast_a_server_taken_over(cli, ledger, tmp_path):
    """Whoever controls the server too can replace the key, sign the forged head and delete
    the old checkpoints; the copy kept elsewhere, checked with the public key kept
    elsewhere, still shows the rewrite."""
    dpo = tmp_path / "dpo"
    dpo.mkdir()
    cli("ledger", "checkpoint", "--output", str(dpo / "checkpoint.json"))
    pinned = dpo / "ledger.pub.pem"
    pinned.write_bytes(public_key_path(ledger.settings).read_bytes())

    rewrite_refusal_as_grant(ledger)
    for old in ledger.settings.checkpoint_path.glob("*.json"):
        old.unlink()
    ledger.settings.ledger_key_path.unlink()
    public_key_path(ledger.settings).unlink()
    ensure_ledger_key(ledger.settings)  # the attacker's own key
    cli("ledger", "checkpoint")  # signs the forged head
    assert cli("ledger", "verify", ok=False).exit_code == 0  # fooled on the server alone

    result = cli(
        "ledger", "verify", "--checkpoints", str(dpo), "--public-key", str(pinned), ok=False
    )
    assert result.exit_code == 1
    # the attacker's new checkpoint is not signed by the pinned key
    assert "not signed by a trusted ledger key" in result.output

    # even with the server's own checkpoints set aside, the DPO's copy names the rewrite
    for forged in ledger.settings.checkpoint_path.glob("*.json"):
        forged.unlink()
    result = cli(
        "ledger", "verify", "--checkpoints", str(dpo), "--public-key", str(pinned), ok=False
    )
    assert result.exit_code == 1
    assert "entry 4 does not have the hash signed" in result.output


def test_a_checkpoint_signed_by_another_key_or_altered_is_refused(cli, ledger, tmp_path):
    cli("ledger", "checkpoint")
    stranger = signed.sign(Ed25519PrivateKey.generate(), seq=4, hash="f" * 64, at="2026-11-02Z")
    (tmp_path / "stranger.json").write_text(stranger.to_json())
    result = cli("ledger", "verify", "--checkpoints", str(tmp_path / "stranger.json"), ok=False)
    assert result.exit_code == 1
    assert "not signed by a trusted ledger key" in result.output

    own = next(ledger.settings.checkpoint_path.glob("*.json"))
    data = json.loads(own.read_text())
    data["seq"] = 3  # a signature covers the seq: moving it back is caught
    own.write_text(json.dumps(data))
    result = cli("ledger", "verify", ok=False)
    assert result.exit_code == 1
    assert "not signed by a trusted ledger key" in result.output


def test_public_key_command_prints_the_key_that_checks_checkpoints(cli, ledger):
    printed = cli("ledger", "public-key").stdout
    assert printed.startswith("-----BEGIN PUBLIC KEY-----")
    assert printed.encode() == public_key_path(ledger.settings).read_bytes()


def test_the_proof_anchors_each_entry_to_a_checkpoint_through_the_chain(cli, ledger):
    """Another contact's entry 2 is rewritten; only its own hash and entry 3's link are
    mended. The proof of contact 1 (entries 1 and 4) shows nothing wrong in its own entries
    and their links, nor in the stored hash at the checkpoint: recomputing the chain from
    entry 1 to the checkpoint does."""
    cli("ledger", "checkpoint")
    assert proof_for(ledger, "person0@example.org", "newsletter")["all_verified"] is True
    with ledger.db.connect() as conn:
        entries = list(iter_entries(conn))
    with ledger.db.begin() as tx:
        drop_triggers(tx, ledger)
        forged = given_to_someone_else(tx, ledger, entries[1])
        forged = replace(forged, hash=entry_hash(forged))
        tx.exec_driver_sql(
            sql(ledger, "UPDATE consent_ledger SET personal = %s, hash = %s WHERE seq = 2"),
            (forged.personal, forged.hash),
        )
        tx.exec_driver_sql(
            sql(ledger, "UPDATE consent_ledger SET prev_hash = %s WHERE seq = 3"), (forged.hash,)
        )
    proof = proof_for(ledger, "person0@example.org", "newsletter")
    assert all(e["hash_verified"] and e["links_verified"] for e in proof["entries"])
    assert proof["checkpoints"]["contradiction"] is None
    first, last = proof["entries"]
    assert first["anchor"] == {"checkpoint_seq": 4, "checkpoint_at": ANY, "verified": False}
    assert last["anchor"]["verified"] is True
    assert proof["all_verified"] is False
    assert cli("ledger", "verify", ok=False).exit_code == 1
