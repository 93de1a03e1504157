"""Each purpose's state reads the same everywhere (one function, consent/history.py): the
consent page, the preference page, `consent show`, the REST API and the admin UI say, for
the same contact, that open tracking was refused, personalisation granted, profiling never
asked."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from clearpixel.accounts import api_keys, users
from clearpixel.consent import record_decision
from clearpixel.domain.ledger import Method
from clearpixel.web.app import create_app
from tests.consent.consent_helpers import consent_token, preferences_token
from tests.helpers import make_contacts, make_list
from tests.web.test_admin import PASSWORD, sign_in

EXPECTED = {"open_tracking": "refused", "personalisation": "granted", "profiling": "never_asked"}


def test_every_surface_states_each_purpose_the_same_way(ctx, cli):
    # open tracking and personalisation from an import, then open tracking withdrawn; no
    # decision ever named profiling
    (cid,) = make_contacts(ctx, make_list(ctx), [3])
    record_decision(ctx.db, cid, revoked=1, method=Method.API, now=ctx.now(), cooldown=ctx.cooldown)

    shown = json.loads(cli("consent", "show", "person0@example.org", "--list", "newsletter",
                           "--json").output)  # fmt: skip
    assert shown["purposes"] == EXPECTED

    _, secret = api_keys.create_api_key(ctx, "crm")
    users.ensure_admin(ctx, password=PASSWORD)
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as client:
        api = client.get(
            f"/api/v1/contacts/{cid}", headers={"Authorization": f"Bearer {secret}"}
        ).json()
        assert api["consent"] == EXPECTED

        preferences = client.get(f"/preferences/{preferences_token(ctx, cid)}").text
        consent_page = client.get(f"/consent/{consent_token(ctx, cid)}").text
        for label, purpose in (
            ("open tracking", "open_tracking"),
            ("personalisation", "personalisation"),
            ("profiling", "profiling"),
        ):
            words = EXPECTED[purpose].replace("_", " ")
            assert f"{label}: <strong>{words}</strong>" in preferences
        assert "open tracking: <strong>refused</strong>" in consent_page

        sign_in(client)
        admin = client.get(f"/admin/contacts/{cid}").text
        for purpose, state in EXPECTED.items():
            assert f'<td>{purpose}</td><td><span class="tag state-{state}">' in admin


def test_a_purpose_no_decision_named_was_never_asked_even_with_flags_set(ctx, cli):
    """Flags 2 from an import that granted personalisation: open tracking was never asked,
    though the flags are not NULL; a revoke of a bit the contact lacks changes nothing and
    asks nothing."""
    (cid,) = make_contacts(ctx, make_list(ctx), [2])
    record_decision(ctx.db, cid, revoked=1, method=Method.API, now=ctx.now(), cooldown=ctx.cooldown)
    shown = json.loads(cli("consent", "show", "person0@example.org", "--list", "newsletter",
                           "--json").output)  # fmt: skip
    assert shown["purposes"] == {
        "open_tracking": "never_asked",
        "personalisation": "granted",
        "profiling": "never_asked",
    }


def test_no_page_shows_a_contacts_last_open_date(ctx):
    """The deliverability date feeds inactivity suppression only (R6): no page shows it."""
    import sqlalchemy as sa

    from clearpixel.store.schema import contacts

    (cid,) = make_contacts(ctx, make_list(ctx), [0])
    with ctx.db.begin() as tx:
        tx.execute(contacts.update().values(last_open_date=sa.func.date("2026-10-17")))
    users.ensure_admin(ctx, password=PASSWORD)
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as client:
        sign_in(client)
        for path in (f"/admin/contacts/{cid}", "/admin/lists/1"):
            page = client.get(path).text
            assert "2026-10-17" not in page and "last open" not in page.lower()
