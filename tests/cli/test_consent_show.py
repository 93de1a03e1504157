"""`clearpixel consent show`: purposes granted / refused / never asked, and the history."""

import json

from clearpixel.consent import record_decision
from clearpixel.domain.ledger import Method
from tests.helpers import make_contacts, make_list


def test_consent_show_names_each_purpose_state_and_the_history(cli, ctx):
    _never, _imported, chose = make_contacts(ctx, make_list(ctx), [None, 1, None])
    record_decision(
        ctx.db,
        chose,
        granted=2,
        revoked=1,
        method=Method.CONSENT_PAGE,
        now=ctx.now(),
        cooldown=ctx.cooldown,
        notice_id=7,
        notice_sha256="ab" * 32,
        evidence={"ip": "192.0.2.0"},
    )

    def show(email):
        return json.loads(cli("consent", "show", email, "--list", "newsletter", "--json").stdout)

    assert show("person0@example.org")["purposes"] == {
        "open_tracking": "never_asked",
        "personalisation": "never_asked",
        "profiling": "never_asked",
    }
    assert show("person0@example.org")["history"] == []
    assert show("person1@example.org")["purposes"] == {
        "open_tracking": "granted",
        "personalisation": "never_asked",
        "profiling": "never_asked",
    }
    chosen = show("  Person2@EXAMPLE.org ")  # the address is normalised like an import
    assert chosen["privacy_flags"] == 2
    assert chosen["purposes"] == {  # the decision named two purposes, not profiling
        "open_tracking": "refused",
        "personalisation": "granted",
        "profiling": "never_asked",
    }
    (item,) = chosen["history"]
    assert item["method"] == "consent_page"
    assert item["granted"] == ["personalisation"]
    assert item["revoked"] == ["open_tracking"]
    assert item["notice_id"] == 7
    assert item["evidence"] == {"ip": "192.0.2.0"}

    text = cli("consent", "show", "person2@example.org", "--list", "newsletter").stdout
    assert "refused" in text
    assert "never asked" in text  # profiling
    assert "consent_page  granted: personalisation  revoked: open_tracking  flags None -> 2" in text
    assert f"notice 7 (sha256 {'ab' * 32})" in text


def test_consent_show_unknown_contact_or_list_is_a_clear_error(cli, ctx):
    make_contacts(ctx, make_list(ctx), [None])
    result = cli("consent", "show", "nobody@example.org", "--list", "newsletter", ok=False)
    assert result.exit_code == 2
    assert "no contact 'nobody@example.org' in list 'newsletter'" in result.output
    result = cli("consent", "show", "person0@example.org", "--list", "nope", ok=False)
    assert "no list named 'nope'" in result.output
    result = cli("consent", "show", "not an address", "--list", "newsletter", ok=False)
    assert result.exit_code == 2 and "invalid email address" in result.output
