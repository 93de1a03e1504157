from hypothesis import given
from hypothesis import strategies as st

from clearpixel.domain import flags
from clearpixel.domain.flags import DEFAULT_PURPOSES, FlagsError, Purposes

maybe_flags = st.none() | st.integers(min_value=0, max_value=2**30)
bits = st.integers(min_value=0, max_value=2**30)


@given(maybe_flags, bits)
def test_grant_is_the_null_safe_sql_or(value, bit):
    # SQL: COALESCE(privacy_flags, 0) | bit — never NULL, never loses a bit already set.
    result = flags.grant(value, bit)
    assert result == (value or 0) | bit
    assert result & (value or 0) == (value or 0)


@given(maybe_flags, bits, bits)
def test_grant_then_revoke_of_a_bit_leaves_it_cleared_and_others_untouched(value, g, r):
    result = flags.apply(value, granted=g, revoked=r)
    assert result & r == 0
    assert result & ~r == ((value or 0) | g) & ~r


@given(maybe_flags, bits)
def test_grant_is_idempotent(value, bit):
    once = flags.grant(value, bit)
    assert flags.grant(once, bit) == once


def test_null_has_no_consent_and_zero_has_none_either():
    assert not flags.has_open_tracking(None)
    assert not flags.has_open_tracking(0)
    assert flags.has_open_tracking(1)
    assert flags.has_open_tracking(3)
    assert not flags.has_open_tracking(2)


def test_revoking_on_null_records_that_the_contact_was_asked():
    assert flags.revoke(None, 1) == 0


def test_purposes_require_open_tracking_at_bit_one():
    for bad in ({"personalisation": 2}, {"open_tracking": 2}):
        try:
            Purposes(bad)
        except FlagsError as exc:
            assert "open_tracking" in str(exc)
        else:
            raise AssertionError(f"{bad} accepted")


def test_purposes_refuse_shared_or_non_power_of_two_bits():
    for bad, word in (
        ({"open_tracking": 1, "a": 2, "b": 2}, "share"),
        ({"open_tracking": 1, "a": 6}, "power of two"),
    ):
        try:
            Purposes(bad)
        except FlagsError as exc:
            assert word in str(exc)
        else:
            raise AssertionError(f"{bad} accepted")


def test_check_value_names_undefined_bits():
    purposes = Purposes(DEFAULT_PURPOSES)
    assert purposes.check_value(7) == 7
    assert purposes.check_value(None) is None
    try:
        purposes.check_value(8)
    except FlagsError as exc:
        assert "no purpose defines" in str(exc)
    else:
        raise AssertionError("bit 8 accepted")
