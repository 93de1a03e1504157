"""Tampering with the ledger through raw SQL, as someone with database access would: the store
refuses UPDATE and DELETE (tests/store/test_ledger_append_only.py); with the triggers
bypassed, `clearpixel ledger verify` names the first entry that no longer holds."""

from contextlib import contextmanager

import pytest

from clearpixel.consent import record_decision
from clearpixel.domain.ledger import Method
from tests.helpers import make_contacts, make_list


@pytest.fixture
def ledger(ctx):
    ids = make_contacts(ctx, make_list(ctx), [None, None, None])
    for cid in ids:  # entries 1..3
        record_decision(
            ctx.db, cid, granted=1, method=Method.API, now=ctx.now(), cooldown=ctx.cooldown
        )
    record_decision(
        ctx.db,
        ids[0],
        revoked=1,
        method=Method.PREFERENCE_PAGE,
        now=ctx.now(),
        cooldown=ctx.cooldown,
    )  # entry 4
    return ctx


@contextmanager
def without_triggers(ctx):
    """A transaction in which the append-only triggers do not fire."""
    with ctx.db.begin() as tx:
        if ctx.db.is_postgres:
            tx.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            tx.exec_driver_sql("DROP TRIGGER consent_ledger_no_update")
            tx.exec_driver_sql("DROP TRIGGER consent_ledger_no_delete")
        yield tx


def mark(ctx):  # type: ignore[no-untyped-def]
    return "%s" if ctx.db.is_postgres else "?"


def verify(cli):
    return cli("ledger", "verify", ok=False)


def test_a_sound_ledger_verifies(cli, ledger):
    result = verify(cli)
    assert result.exit_code == 0
    assert "4 entries, chain intact" in result.stdout


def test_an_edited_entry_is_named(cli, ledger):
    with without_triggers(ledger) as tx:
        tx.exec_driver_sql("UPDATE consent_ledger SET granted = 3 WHERE seq = 2")
    result = verify(cli)
    assert result.exit_code == 1
    assert "failed at seq 2: content does not match its hash (entry was edited)" in result.output


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(cli, ledger):
    from clearpixel.domain.ledger_chain import entry_hash
    from clearpixel.store.ledger import iter_entries

    with ledger.db.connect() as conn:
        second = list(iter_entries(conn))[1]
    forged = {**{f: getattr(second, f) for f in second.__slots__}, "personal": "f" * 64}
    with without_triggers(ledger) as tx:
        tx.exec_driver_sql(
            f"UPDATE consent_ledger SET personal = '{'f' * 64}', hash = {mark(ledger)} "
            "WHERE seq = 2",
            (entry_hash(forged),),
        )
        tx.exec_driver_sql("DELETE FROM ledger_personal WHERE seq = 2")  # no opening to check
    result = verify(cli)
    assert "failed at seq 3: prev_hash does not match the previous entry" in result.output


def test_a_removed_entry_is_named(cli, ledger):
    with without_triggers(ledger) as tx:
        tx.exec_driver_sql("DELETE FROM consent_ledger WHERE seq = 2")
    result = verify(cli)
    assert result.exit_code == 1
    assert "failed at seq 2: entry 2 is missing" in result.output


def test_a_removed_tail_is_caught_by_the_ledger_head(cli, ledger):
    with without_triggers(ledger) as tx:
        tx.exec_driver_sql("DELETE FROM consent_ledger WHERE seq >= 3")
    result = verify(cli)
    assert result.exit_code == 1
    assert "failed at seq 3: entries 3 to 4 are missing" in result.output


def test_reordered_entries_are_named(cli, ledger):
    with without_triggers(ledger) as tx:
        tx.exec_driver_sql("UPDATE consent_ledger SET seq = 100 WHERE seq = 2")
        tx.exec_driver_sql("UPDATE consent_ledger SET seq = 2 WHERE seq = 3")
        tx.exec_driver_sql("UPDATE consent_ledger SET seq = 3 WHERE seq = 100")
    result = verify(cli)
    assert result.exit_code == 1
    assert "failed at seq 2: prev_hash does not match the previous entry" in result.output


def test_a_changed_flags_after_is_named_even_on_the_last_entry(cli, ledger):
    with without_triggers(ledger) as tx:
        tx.exec_driver_sql("UPDATE consent_ledger SET flags_after = 1 WHERE seq = 4")
    result = verify(cli)
    assert "failed at seq 4" in result.output


def test_an_edited_commitment_is_named(cli, ledger):
    with without_triggers(ledger) as tx:
        tx.exec_driver_sql(f"UPDATE consent_ledger SET personal = '{'e' * 64}' WHERE seq = 3")
    result = verify(cli)
    assert result.exit_code == 1
    assert "failed at seq 3: content does not match its hash (entry was edited)" in result.output


def test_edited_personal_fields_no_longer_open_their_commitment(cli, ledger):
    """The opening lives outside the append-only table; an edit of it is caught by the
    commitment the chain hashes."""
    with ledger.db.begin() as tx:
        tx.exec_driver_sql("UPDATE ledger_personal SET email = 'forged@example.org' WHERE seq = 2")
    result = verify(cli)
    assert result.exit_code == 1
    assert (
        "failed at seq 2: personal fields do not match their commitment (they were edited)"
        in result.output
    )


def test_deleted_openings_leave_a_sound_chain_that_says_how_many_are_erased(cli, ledger):
    with ledger.db.begin() as tx:
        tx.exec_driver_sql("DELETE FROM ledger_personal WHERE seq IN (1, 4)")
    result = verify(cli)
    assert result.exit_code == 0, result.output
    assert "4 entries, chain intact" in result.stdout
    assert "2 entries belong to erased people" in result.stdout
    with without_triggers(ledger) as tx:  # and a remaining entry tampered with still shows
        tx.exec_driver_sql("UPDATE consent_ledger SET revoked = 0 WHERE seq = 4")
    assert "failed at seq 4" in verify(cli).output
