"""`clearpixel flags grant|revoke` and `flags check`, end to end through the CLI."""

import json

import pytest
import sqlalchemy as sa

from clearpixel.store.contacts import get_contact
from clearpixel.store.ledger import entries_for_contact, iter_entries
from clearpixel.store.schema import contacts, personal_events
from tests.helpers import make_contacts, make_list


def flags(ctx, ids):
    with ctx.db.connect() as conn:
        return [get_contact(conn, cid).privacy_flags for cid in ids]


def entry_count(ctx):
    with ctx.db.connect() as conn:
        return len(list(iter_entries(conn)))


@pytest.fixture
def people(ctx):
    return make_contacts(ctx, make_list(ctx), [None, 0, 1, 2, 3, None])


def test_grant_is_null_safe_and_logs_only_contacts_that_change(cli, ctx, people):
    before = entry_count(ctx)
    result = cli(
        "flags",
        "grant",
        "--list",
        "newsletter",
        "--purpose",
        "open_tracking",
        "--basis",
        "legitimate interest assessment 2026-10",
    )
    assert "open_tracking granted for 4 contacts" in result.stdout
    assert "2 already in that state, untouched" in result.stdout
    assert flags(ctx, people) == [1, 1, 1, 3, 3, 1]  # COALESCE(flags, 0) | 1, NULL included
    assert entry_count(ctx) == before + 4
    with ctx.db.connect() as conn:
        (entry,) = entries_for_contact(conn, people[0])
        untouched = entries_for_contact(conn, people[2])
    assert entry.method == "bulk"
    assert (entry.flags_before, entry.flags_after, entry.granted) == (None, 1, 1)
    assert entry.evidence == {"basis": "legitimate interest assessment 2026-10"}
    assert len(untouched) == 1  # the fixture's own entry only

    again = cli(
        "flags", "grant", "--list", "newsletter", "--purpose", "open_tracking", "--basis", "again"
    )
    assert "granted for 0 contacts" in again.stdout
    assert entry_count(ctx) == before + 4
    cli("flags", "check")
    cli("ledger", "verify")


def test_grant_only_null_touches_only_contacts_never_asked(cli, ctx, people):
    cli(
        "flags",
        "grant",
        "--list",
        "newsletter",
        "--purpose",
        "personalisation",
        "--basis",
        "b",
        "--only-null",
    )
    assert flags(ctx, people) == [2, 0, 1, 2, 3, 2]


def test_revoke_clears_the_bit_leaves_null_rows_and_forgets_personal_events(cli, ctx, people):
    with ctx.db.begin() as tx:
        tx.execute(
            personal_events.insert().values(
                campaign_id=1,
                contact_id=people[4],
                event="open",
                at=ctx.now(),
                verdict="human",
            )
        )
    result = cli(
        "flags",
        "revoke",
        "--list",
        "newsletter",
        "--purpose",
        "open_tracking",
        "--basis",
        "consent campaign void",
    )
    assert "open_tracking revoked for 2 contacts" in result.stdout
    assert flags(ctx, people) == [None, 0, 0, 2, 2, None]
    with ctx.db.connect() as conn:
        events = conn.execute(sa.select(personal_events)).all()
        cooled = get_contact(conn, people[4]).consent_cooldown_until
    assert events == []
    assert cooled is not None
    cli("flags", "check")


def test_revoke_only_null_records_a_refusal_for_contacts_never_asked(cli, ctx, people):
    cli(
        "flags",
        "revoke",
        "--list",
        "newsletter",
        "--purpose",
        "open_tracking",
        "--basis",
        "b",
        "--only-null",
    )
    assert flags(ctx, people) == [0, 0, 1, 2, 3, 0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--list", "nope", "--purpose", "open_tracking", "--basis", "b"], "no list named 'nope'"),
        (
            ["--list", "newsletter", "--purpose", "spying", "--basis", "b"],
            "unknown purpose 'spying'",
        ),
        (
            ["--list", "newsletter", "--purpose", "open_tracking", "--basis", "  "],
            "needs a legal basis",
        ),
        (["--list", "newsletter", "--purpose", "open_tracking"], "--basis"),
    ],
)
def test_bulk_errors_are_clear_and_change_nothing(cli, ctx, people, args, message):
    before = entry_count(ctx)
    result = cli("flags", "grant", *args, ok=False)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert entry_count(ctx) == before
    assert flags(ctx, people) == [None, 0, 1, 2, 3, None]


def test_flags_check_names_a_contact_whose_flags_were_changed_behind_the_ledger(cli, ctx, people):
    assert "6 contacts" in cli("flags", "check").stdout
    with ctx.db.begin() as tx:  # as someone running the seed's raw UPDATE would
        tx.execute(contacts.update().where(contacts.c.id == people[3]).values(privacy_flags=3))
    result = cli("flags", "check", ok=False)
    assert result.exit_code == 1
    assert f"contact {people[3]} (person3@example.org): privacy_flags is 3, the ledger says 2" in (
        result.output
    )


def test_flags_check_treats_null_without_entries_as_consistent_and_null_with_entries_not(
    cli, ctx, people
):
    with ctx.db.begin() as tx:
        tx.execute(contacts.update().where(contacts.c.id == people[1]).values(privacy_flags=None))
    result = cli("flags", "check", ok=False)
    assert "privacy_flags is None, the ledger says 0" in result.output


def test_many_contacts_in_several_batches(cli, ctx, monkeypatch):
    from clearpixel.consent import bulk

    monkeypatch.setattr(bulk, "BATCH", 7)
    ids = make_contacts(ctx, make_list(ctx), [None, 1, 0] * 10)
    cli("flags", "grant", "--list", "newsletter", "--purpose", "profiling", "--basis", "b")
    assert flags(ctx, ids) == [4, 5, 4] * 10
    cli("flags", "check")
    cli("ledger", "verify")
    shown = json.loads(
        cli("consent", "show", "person1@example.org", "--list", "newsletter", "--json").stdout
    )
    assert shown["purposes"]["profiling"] == "granted"
