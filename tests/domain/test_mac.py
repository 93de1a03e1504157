"""The one HMAC primitive serves every MAC the platform keeps or hands out; the values it
stored or handed out before keep matching (pinned here), so an erased address stays refused
and a CSRF token issued before an upgrade is still accepted."""

from __future__ import annotations

from datetime import UTC, datetime

from clearpixel.accounts import csrf
from clearpixel.domain.erasure import erased_key, erased_keys

SECRET = "k" * 40


def test_the_key_kept_for_an_erased_address_is_the_one_stored_before():
    assert erased_key(SECRET, "ana@example.org") == (
        "erased:3b921220713f07995c372e77864d87939032b130b2aed910e9e4ce19ed5400ea"
    )
    assert erased_keys(["other" * 8, SECRET], "ana@example.org")[1] == erased_key(
        SECRET, "ana@example.org"
    )
    assert erased_key(SECRET, "bob@example.org") != erased_key(SECRET, "ana@example.org")


def test_a_csrf_pair_issued_before_still_checks_and_a_changed_one_does_not():
    now = datetime.fromtimestamp(1_700_000_100, UTC)
    keys = [b"k" * 32]
    nonce, mac = "1700000000.abc", "952748903f37df789430ebdfb745652c"
    assert csrf.check(keys, "tok", "p", nonce, mac, now=now)
    assert not csrf.check(keys, "tok", "p", nonce, mac[:-1] + "d", now=now)
    assert not csrf.check(keys, "tok", "other", nonce, mac, now=now)
