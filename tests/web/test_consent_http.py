"""The consent pages over real HTTP, as a mail client, a link scanner or an attacker sees them."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx2
import pytest

from clearpixel.domain.tokens import Token, TokenKind
from tests.consent.consent_helpers import (
    consent_token,
    contact,
    entries,
    ledger_count,
    preferences_token,
    state,
    unsubscribe_token,
)
from tests.helpers import make_contacts, make_list


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, name
    return found.group(1)


@pytest.fixture
def http(live_server):  # type: ignore[no-untyped-def]
    with httpx2.Client(base_url=live_server.url, follow_redirects=False) as client:
        yield client


def test_scanner_gets_of_consent_preference_and_unsubscribe_links_change_nothing(ctx, http):
    [cid] = make_contacts(ctx, make_list(ctx), [3])
    before = state(ctx, cid)
    for path in (
        f"/consent/{consent_token(ctx, cid)}",
        f"/preferences/{preferences_token(ctx, cid)}",
        f"/unsubscribe/{unsubscribe_token(ctx, cid)}",
    ):
        for _ in range(3):
            page = http.get(path)
            assert page.status_code == 200
            assert page.headers["cache-control"] == "no-store"
            assert page.headers["referrer-policy"] == "no-referrer"
    assert state(ctx, cid) == before


def test_consent_page_accept_then_replay_shows_the_recorded_choice(ctx, http):
    [cid] = make_contacts(ctx, make_list(ctx), [None])
    path = f"/consent/{consent_token(ctx, cid)}"
    page = http.get(path).text
    assert "Accept" in page and "Refuse" in page
    form = {k: _hidden(page, k) for k in ("nonce", "csrf", "notice_id")}
    done = http.post(path, data={**form, "choice": "accept"})
    assert done.status_code == 200
    assert "you accepted open tracking" in done.text
    assert contact(ctx, cid).privacy_flags == 1
    [entry] = entries(ctx, cid)
    assert entry.method == "consent_page"
    assert entry.notice_id == int(form["notice_id"])
    assert entry.evidence["ip"] == "127.0.0.0"
    assert consent_token(ctx, cid) not in str(entry.evidence)  # no working link in the ledger

    replay = http.post(path, data={**form, "choice": "refuse"})
    assert replay.status_code == 409
    assert "already used" in replay.text and "you accepted open tracking" in replay.text
    assert "/preferences/" in replay.text
    assert contact(ctx, cid).privacy_flags == 1
    assert len(entries(ctx, cid)) == 1
    again = http.get(path)
    assert 'value="accept"' not in again.text
    assert "you accepted open tracking" in again.text


def test_post_without_csrf_token_is_403_and_changes_nothing(ctx, http):
    [cid] = make_contacts(ctx, make_list(ctx), [1])
    path = f"/consent/{consent_token(ctx, cid)}"
    page = http.get(path).text
    before = state(ctx, cid)
    nonce = _hidden(page, "nonce")
    for data in (
        {"choice": "refuse"},
        {"choice": "refuse", "nonce": nonce},
        {"choice": "refuse", "nonce": nonce, "csrf": "0" * 32},
    ):
        assert http.post(path, data=data).status_code == 403
    form = {k: _hidden(page, k) for k in ("nonce", "csrf", "notice_id")}
    other_notice = str(int(form["notice_id"]) + 1)  # the pair binds the notice shown
    assert (
        http.post(path, data={**form, "notice_id": other_notice, "choice": "refuse"}).status_code
        == 403
    )
    prefs = f"/preferences/{preferences_token(ctx, cid)}"
    assert http.post(prefs, data={"action": "withdraw"}).status_code == 403
    json_answer = http.post(
        prefs, data={"action": "withdraw"}, headers={"accept": "application/json"}
    )
    assert json_answer.status_code == 403
    assert state(ctx, cid) == before


def test_forged_expired_and_unknown_links_get_a_clear_page_that_reveals_nothing(ctx, http):
    [cid] = make_contacts(ctx, make_list(ctx), [None])
    valid = consent_token(ctx, cid)
    forged = valid[:-2] + ("AA" if not valid.endswith("AA") else "BB")
    expired = ctx.signer.sign(
        Token(
            TokenKind.CONSENT,
            cid,
            campaign_id=1,
            expires_at=int((ctx.now() - timedelta(seconds=1)).timestamp()),
        )
    )
    unknown = consent_token(ctx, 999_999)
    wrong_kind = preferences_token(ctx, cid)
    bodies = {}
    for name, token, status in (
        ("forged", forged, 400),
        ("garbage", "%%%not-a-token", 400),
        ("unknown", unknown, 400),
        ("wrong_kind", wrong_kind, 400),
        ("expired", expired, 410),
    ):
        for method in ("GET", "POST"):
            answer = http.request(
                method, f"/consent/{token}", data={"choice": "accept"} if method == "POST" else None
            )
            # a valid link for an unknown contact fails the CSRF check first, like any POST
            # that no page of ours prepared: 403 either way, and nothing is revealed
            expected = 403 if (name, method) == ("unknown", "POST") else status
            assert answer.status_code == expected, (name, method)
            assert "Traceback" not in answer.text
            assert "person0@example.org" not in answer.text
            assert "<html" in answer.text
            if method == "GET":
                bodies[name] = answer.text
    assert bodies["forged"] == bodies["unknown"]  # an unknown contact looks like a forgery
    assert "expired" in bodies["expired"]
    assert http.get(f"/preferences/{forged}").status_code == 400
    assert http.post(f"/unsubscribe/{forged}").status_code == 400
    assert ledger_count(ctx) == 0


def test_rfc8058_one_click_unsubscribe_without_cookie(ctx, live_server):
    [cid] = make_contacts(ctx, make_list(ctx), [3])
    before = ledger_count(ctx)
    with httpx2.Client(base_url=live_server.url, follow_redirects=False) as client:
        answer = client.post(
            f"/unsubscribe/{unsubscribe_token(ctx, cid)}",
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert not client.cookies
    assert answer.status_code == 200
    assert "set-cookie" not in answer.headers
    found = contact(ctx, cid)
    assert found.status == "unsubscribed"
    assert found.privacy_flags == 3
    assert ledger_count(ctx) == before


def test_unsubscribe_page_confirms_with_a_button(ctx, http):
    [cid] = make_contacts(ctx, make_list(ctx), [None])
    path = f"/unsubscribe/{unsubscribe_token(ctx, cid)}"
    page = http.get(path)
    assert '<form method="post">' in page.text
    assert contact(ctx, cid).status == "subscribed"
    assert "You are unsubscribed" in http.post(path).text


def test_language_follows_contact_locale_then_accept_language(ctx, http):
    list_id = make_list(ctx)
    [fr] = make_contacts(ctx, list_id, [None], locale="fr")
    [other] = make_contacts(ctx, make_list(ctx, "other"), [None])
    page = http.get(f"/consent/{consent_token(ctx, fr)}", headers={"accept-language": "en"})
    assert '<html lang="fr">' in page.text and "Accepter" in page.text
    assert "suivi des ouvertures" in page.text
    page = http.get(
        f"/consent/{consent_token(ctx, other)}",
        headers={"accept-language": "de-DE, fr-CA;q=0.8, en;q=0.5"},
    )
    assert '<html lang="fr">' in page.text
    page = http.get(f"/consent/{consent_token(ctx, other)}")
    assert '<html lang="en">' in page.text and "Accept" in page.text
    form = http.get("/subscribe/newsletter", headers={"accept-language": "fr"})
    assert "S&#39;inscrire" in form.text or "S'inscrire" in form.text


def test_signup_post_over_http_answers_the_same_for_known_addresses(ctx, http):
    make_list(ctx)
    form = http.get("/subscribe/newsletter").text
    notice_fields = dict(re.findall(r'name="(notice_\w+)" value="(\d+)"', form))
    data = {"email": "new@example.org", "purpose": ["open_tracking"], **notice_fields}
    first = http.post(
        "/subscribe/newsletter", data=data, headers={"referer": "https://org.example/join?x=1"}
    )
    second = http.post("/subscribe/newsletter", data=data)
    assert first.status_code == second.status_code == 200
    assert first.text == second.text
    bad = http.post("/subscribe/newsletter", data={"email": "nope"})
    assert bad.status_code == 400 and "valid email" in bad.text
    assert http.get("/subscribe/missing").status_code == 404


def test_forms_snippet_posts_to_the_installation(ctx, cli):
    make_list(ctx)
    html = cli("forms", "snippet", "--list", "newsletter", "--locale", "fr").output
    assert 'action="https://mail.example.test/subscribe/newsletter"' in html
    assert html.count('type="checkbox"') == len(ctx.purposes)
    assert "checked" not in html
    assert "Politique de confidentialité" in html
    assert "suivi des ouvertures" in html
