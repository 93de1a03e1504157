"""Right of access: the person's export lists everything held on them and nothing of anyone
else, from the CLI, the API and the preference page's own link."""

from __future__ import annotations

import json

import httpx2
import pytest

from clearpixel.accounts import api_keys
from clearpixel.consent import record_decision
from clearpixel.domain.ledger import Method
from clearpixel.domain.tokens import Token, TokenKind
from tests.consent.consent_helpers import preferences_token
from tests.helpers import make_contacts, make_list
from tests.subjects.people import Person, populate


@pytest.fixture
def api_key(ctx):  # type: ignore[no-untyped-def]
    _, secret = api_keys.create_api_key(ctx, "tests")
    return secret


@pytest.fixture
def people(ctx):  # type: ignore[no-untyped-def]
    ana = populate(ctx, "ana@example.org", "Zephyrine", ip="203.0.113.77", tag="AnaAgent")
    bob = populate(ctx, "bob@example.org", "Quillon", ip="198.51.100.23", tag="BobAgent")
    return ana, bob


def _assert_complete_and_only_ana(export: dict, ana: Person, bob: Person) -> None:  # type: ignore[type-arg]
    text = json.dumps(export, ensure_ascii=False)
    for foreign in (bob.email, bob.secret, "BobAgent", "198.51.100", "News for BobAgent"):
        assert foreign not in text
    assert export["email"] == ana.email
    newsletter, events = export["lists"]
    assert (newsletter["list"], events["list"]) == ("newsletter", "events")
    assert newsletter["attributes"] == {"nickname": "Zephyrine"}
    assert events["attributes"] == {"city": "Zephyrine-city"}
    assert newsletter["purposes"] == {
        "open_tracking": "granted",
        "personalisation": "never asked",
        "profiling": "never asked",
    }
    [entry] = newsletter["ledger"]
    assert entry["method"] == "signup_form" and entry["granted"] == ["open_tracking"]
    assert entry["evidence"]["ip"] == "203.0.113.0"
    assert "AnaAgent" in entry["evidence"]["user_agent"]
    assert entry["notice"]["locale"] == "fr" and "pixel" in entry["notice"]["text"]
    assert [(s["campaign"], s["kind"], s["mode"]) for s in newsletter["sends"]] == [
        ("News for AnaAgent", "marketing", "personal"),
        ("Ask AnaAgent", "consent_request", "none"),
    ]
    assert all(s["sent_at"] for s in newsletter["sends"])
    [request] = newsletter["consent_requests"]
    assert request["campaign"] == "Ask AnaAgent" and request["viewed_at"]
    opens_and_clicks = {(e["event"], e["link"]) for e in newsletter["personal_events"]}
    assert opens_and_clicks == {("open", None), ("click", "https://shop.example.org/sale")}
    assert all(
        set(e) == {"campaign", "event", "link", "at", "verdict"}
        for e in newsletter["personal_events"]
    )
    assert events["last_open_date"] is not None and events["personal_events"] == []
    assert any("not personal data" in line for line in export["not_held"])


def test_cli_export_lists_everything_held_and_nothing_of_another_person(cli, people):
    ana, bob = people
    export = json.loads(cli("subject", "export", "ANA@example.org").output)
    _assert_complete_and_only_ana(export, ana, bob)


def test_cli_html_export_is_readable_and_escapes_stored_values(ctx, cli):
    populate(ctx, "eve@example.org", "<script>alert(1)</script>", ip="192.0.2.1", tag="EveAgent")
    page = cli("subject", "export", "eve@example.org", "--format", "html").output
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "News for EveAgent" in page and "granted" in page


def test_cli_export_of_an_unknown_or_malformed_address_says_so(cli, people):
    assert (
        "no list holds 'nobody@example.org'"
        in cli("subject", "export", "nobody@example.org", ok=False).output
    )
    assert "invalid email address" in cli("subject", "export", "not an address", ok=False).output


def test_api_export_needs_a_key_and_returns_the_same_export(ctx, people, live_server, api_key):
    ana, bob = people
    url = f"{live_server.url}/api/v1/subjects/export"
    assert httpx2.post(url, json={"email": ana.email}).status_code == 401
    answer = httpx2.post(
        url, json={"email": ana.email}, headers={"Authorization": f"Bearer {api_key}"}
    )
    assert answer.status_code == 200
    _assert_complete_and_only_ana(answer.json(), ana, bob)
    missing = httpx2.post(
        url, json={"email": "nobody@example.org"}, headers={"Authorization": f"Bearer {api_key}"}
    )
    assert missing.status_code == 404


def test_preference_page_links_to_the_persons_own_data(ctx, people, live_server):
    ana, bob = people
    token = preferences_token(ctx, ana.contact_ids[1])
    page = httpx2.get(f"{live_server.url}/preferences/{token}?change=1").text
    assert f'href="/preferences/{token}/data"' in page
    download = httpx2.get(f"{live_server.url}/preferences/{token}/data?format=json")
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    _assert_complete_and_only_ana(download.json(), ana, bob)
    readable = httpx2.get(f"{live_server.url}/preferences/{token}/data")
    assert readable.status_code == 200 and "Zephyrine" in readable.text
    assert "Quillon" not in readable.text


def test_data_link_with_a_forged_or_foreign_token_gets_the_refusal_page(ctx, people, live_server):
    ana, bob = people
    real = preferences_token(ctx, ana.contact_ids[0])
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    pixel = ctx.signer.sign(Token(TokenKind.PIXEL, contact_id=ana.contact_ids[0], campaign_id=1))
    for token in (forged, pixel, "x" * 5000):
        answer = httpx2.get(f"{live_server.url}/preferences/{token}/data?format=json")
        assert answer.status_code == 400
        assert "This link is not valid" in answer.text
        for held in (ana.email, ana.secret, bob.email, bob.secret):
            assert held not in answer.text


def test_export_and_consent_show_state_purposes_by_the_decisions_that_named_them(ctx, cli):
    """A consent page asks only open tracking: after a refusal there from NULL, the other
    purposes were never asked. An import of 0 records "asked, nothing granted" for every
    purpose. The export and `consent show` say the same (one function)."""
    page, _imported, form = make_contacts(ctx, make_list(ctx), [None, 0, None])
    record_decision(ctx.db, page, revoked=1, method=Method.CONSENT_PAGE, now=ctx.now(),
                    cooldown=ctx.cooldown)  # fmt: skip
    for bit, yes in ((1, True), (4, False)):  # a form naming two purposes, one ticked
        record_decision(
            ctx.db, form, granted=bit if yes else 0, revoked=0 if yes else bit,
            method=Method.SIGNUP_FORM, now=ctx.now(), cooldown=ctx.cooldown,
        )  # fmt: skip
    expected = {
        "person0@example.org": ("refused", "never asked", "never asked"),
        "person1@example.org": ("refused", "refused", "refused"),
        "person2@example.org": ("granted", "never asked", "refused"),
    }
    names = ("open_tracking", "personalisation", "profiling")
    for email, states in expected.items():
        export = json.loads(cli("subject", "export", email).output)
        assert export["lists"][0]["purposes"] == dict(zip(names, states, strict=True))
        shown = json.loads(cli("consent", "show", email, "--list", "newsletter", "--json").output)[
            "purposes"
        ]
        assert shown == {n: s.replace(" ", "_") for n, s in zip(names, states, strict=True)}
