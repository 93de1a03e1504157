"""Recording a signup its owner confirmed: every purpose asked, ticked ones granted, the
others refused; and what a submission refuses before anything is stored."""

from __future__ import annotations

import pytest

from clearpixel.consent.evidence import truncate_ip, web_evidence
from clearpixel.consent.forms import BadSignup, record_signup, signup_form
from clearpixel.consent.signups import start_signup
from clearpixel.domain.flags import FlagsError
from clearpixel.store.contacts import UNSUBSCRIBED, find_contact, set_status
from clearpixel.store.lists import UnknownList, get_list
from tests.consent.consent_helpers import contact, entries
from tests.helpers import make_list

EVIDENCE = web_evidence(
    ip="203.0.113.77", user_agent="Mozilla/5.0 test", page_url="https://org.example/join"
)


def _signup(ctx, email="ann@example.org", ticked=(), notice_ids=None):  # type: ignore[no-untyped-def]
    form = signup_form(ctx, "newsletter", "en")
    with ctx.db.begin() as tx:
        return record_signup(
            tx,
            ctx,
            get_list(tx, "newsletter"),
            address=email,
            ticked=set(ticked),
            notice_ids=notice_ids or {p.name: p.notice.id for p in form.purposes},
            locale="en",
            evidence=EVIDENCE,
            now=ctx.now(),
        )


def _submit(ctx, list_name="newsletter", email="a@example.org", ticked=()):  # type: ignore[no-untyped-def]
    return start_signup(
        ctx,
        list_name,
        email=email,
        ticked=set(ticked),
        notice_ids={},
        locale="en",
        evidence={},
        network="203.0.113.0",
    )


def test_no_box_ticked_gives_flags_zero_not_null_and_starts_the_cooldown(ctx):
    make_list(ctx)
    result = _signup(ctx)
    found = contact(ctx, result.contact_id)
    assert found.privacy_flags == 0
    assert found.consent_cooldown_until is not None
    assert found.email == "ann@example.org"
    assert result.refused == ["open_tracking", "personalisation", "profiling"]


@pytest.mark.parametrize(
    ("ticked", "flags"),
    [(["open_tracking"], 1), (["open_tracking", "personalisation"], 3), (["profiling"], 4)],
)
def test_ticked_purposes_are_granted_each_with_its_notice(ctx, ticked, flags):
    make_list(ctx)
    result = _signup(ctx, ticked=ticked)
    assert contact(ctx, result.contact_id).privacy_flags == flags
    logged = entries(ctx, result.contact_id)
    assert [e.method for e in logged] == ["signup_form"] * 3
    form = signup_form(ctx, "newsletter", "en")
    by_purpose = {p.name: p.notice for p in form.purposes}
    for entry in logged:
        purpose = entry.evidence["purpose"]
        assert entry.notice_id == by_purpose[purpose].id
        assert entry.notice_sha256 == by_purpose[purpose].sha256
        assert (entry.granted != 0) == (purpose in ticked)


def test_evidence_keeps_a_truncated_ip_never_the_full_one(ctx):
    make_list(ctx)
    result = _signup(ctx, ticked=["open_tracking"])
    for entry in entries(ctx, result.contact_id):
        assert entry.evidence["ip"] == "203.0.113.0"
        assert "203.0.113.77" not in str(entry.evidence)
        assert entry.evidence["user_agent"] == "Mozilla/5.0 test"
        assert entry.evidence["page_url"] == "https://org.example/join"


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("198.51.100.200", "198.51.100.0"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
        ("::ffff:192.0.2.9", "192.0.2.0"),
        ("not an ip", ""),
        (None, ""),
    ],
)
def test_truncate_ip(raw, kept):
    assert truncate_ip(raw) == kept


def test_signing_up_again_resubscribes_and_records_the_new_choice(ctx):
    make_list(ctx)
    first = _signup(ctx, ticked=["open_tracking"])
    with ctx.db.begin() as tx:
        set_status(tx, first.contact_id, UNSUBSCRIBED, now=ctx.now())
    second = _signup(ctx, email="ann@example.org")
    assert second.contact_id == first.contact_id
    found = contact(ctx, first.contact_id)
    assert found.status == "subscribed"
    assert found.privacy_flags == 0
    assert len(entries(ctx, first.contact_id)) == 6


def test_a_forged_notice_id_falls_back_to_the_purposes_current_notice(ctx):
    make_list(ctx)
    form = signup_form(ctx, "newsletter", "en")
    wrong = {p.name: form.purposes[-1].notice.id for p in form.purposes}  # all point at one
    result = _signup(ctx, email="b@example.org", ticked={"open_tracking"}, notice_ids=wrong)
    for entry in entries(ctx, result.contact_id):
        shown = next(p.notice for p in form.purposes if p.name == entry.evidence["purpose"])
        assert entry.notice_id == shown.id


@pytest.mark.parametrize("email", ["", "not-an-address", "a@", "x" * 400 + "@example.org"])
def test_bad_addresses_are_refused(ctx, email):
    make_list(ctx)
    with pytest.raises(BadSignup):
        _submit(ctx, email=email)
    with ctx.db.connect() as conn:
        assert find_contact(conn, 1, email) is None


def test_unknown_purpose_and_list_are_refused(ctx):
    make_list(ctx)
    with pytest.raises(FlagsError):
        _submit(ctx, ticked=["everything"])
    with pytest.raises(UnknownList):
        _submit(ctx, "nope")
