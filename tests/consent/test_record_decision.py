import itertools
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearpixel.consent import record_decision
from clearpixel.domain.ledger import Method, fold
from clearpixel.domain.ledger_chain import verify_chain
from clearpixel.store.contacts import get_contact
from clearpixel.store.ledger import entries_for_contact, iter_entries
from tests.helpers import make_contacts, make_list


def flags_of(ctx, cid):
    with ctx.db.connect() as conn:
        return get_contact(conn, cid).privacy_flags


def test_grant_on_null_contact_sets_bit_and_writes_one_chained_entry(ctx):
    (cid,) = make_contacts(ctx, make_list(ctx), [None])
    result = record_decision(
        ctx.db,
        cid,
        granted=1,
        method=Method.API,
        now=ctx.now(),
        cooldown=ctx.cooldown,
        evidence={"basis": "consent form v2"},
    )
    assert flags_of(ctx, cid) == 1
    (entry,) = result.entries
    assert (entry.flags_before, entry.flags_after) == (None, 1)
    with ctx.db.connect() as conn:
        assert verify_chain(iter_entries(conn)) is None


def test_refusal_on_a_page_is_logged_even_when_nothing_changes_and_starts_cooldown(ctx):
    (cid,) = make_contacts(ctx, make_list(ctx), [0])
    result = record_decision(
        ctx.db, cid, revoked=1, method=Method.CONSENT_PAGE, now=ctx.now(), cooldown=ctx.cooldown
    )
    assert len(result.entries) == 1
    with ctx.db.connect() as conn:
        contact = get_contact(conn, cid)
    assert contact.consent_cooldown_until is not None
    assert contact.consent_cooldown_until.date() == (ctx.now() + ctx.cooldown).date()


def test_bulk_decision_that_changes_nothing_is_not_logged(ctx):
    (cid,) = make_contacts(ctx, make_list(ctx), [1])
    result = record_decision(
        ctx.db, cid, granted=1, method=Method.BULK, now=ctx.now(), cooldown=ctx.cooldown
    )
    assert result.entries == []


def test_withdrawal_forgets_every_personal_event_and_the_activity_dates(ctx):
    from clearpixel.store.schema import contacts, personal_events

    cid, other = make_contacts(ctx, make_list(ctx), [3, 1])
    with ctx.db.begin() as tx:
        for who, event in ((cid, "open"), (cid, "open"), (cid, "click"), (other, "click")):
            tx.execute(
                personal_events.insert().values(
                    campaign_id=1, contact_id=who, event=event, at=ctx.now(), verdict="human"
                )
            )
        tx.execute(
            contacts.update().values(
                last_open_date=ctx.now().date(), last_click_date=ctx.now().date()
            )
        )
    result = record_decision(
        ctx.db,
        cid,
        revoked=1,
        method=Method.PREFERENCE_PAGE,
        now=ctx.now(),
        cooldown=ctx.cooldown,
    )
    assert result.withdrawn == [cid]
    assert result.forgotten_events == 3
    with ctx.db.connect() as conn:
        rows = conn.execute(sa.select(personal_events)).all()
        dates = {
            r.id: (r.last_open_date, r.last_click_date) for r in conn.execute(sa.select(contacts))
        }
    assert [(r.contact_id, r.event) for r in rows] == [(other, "click")]
    assert dates[cid] == (None, None)
    assert dates[other] == (ctx.now().date(), ctx.now().date())
    assert flags_of(ctx, cid) == 2


list_names = itertools.count()
decisions = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 7), st.integers(0, 7)), max_size=25
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(decisions)
def test_fold_of_the_ledger_equals_the_stored_flags(ctx, steps):
    list_id = make_list(ctx, f"list{next(list_names)}")  # id(steps) may repeat: not a name
    ids = make_contacts(ctx, list_id, [None, 0, 1, 3, None])
    for index, granted, revoked in steps:
        record_decision(
            ctx.db,
            ids[index],
            granted=granted,
            revoked=revoked,
            method=Method.ADMIN,
            now=ctx.now() + timedelta(seconds=1),
            cooldown=ctx.cooldown,
        )
    with ctx.db.connect() as conn:
        entries = list(iter_entries(conn))
        assert verify_chain(entries) is None
        folded = fold(entries)
        for cid in ids:
            assert folded.get(cid) == get_contact(conn, cid).privacy_flags
            assert [e.contact_id for e in entries_for_contact(conn, cid)] == [cid] * len(
                entries_for_contact(conn, cid)
            )


def test_unknown_contact_is_a_clear_error(ctx):
    from clearpixel.store.contacts import UnknownContact

    with pytest.raises(UnknownContact, match="no contact with id 999"):
        record_decision(
            ctx.db, 999, granted=1, method=Method.API, now=ctx.now(), cooldown=ctx.cooldown
        )
