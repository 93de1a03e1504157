"""A person's own refusal or withdrawal wins over every bulk path (R19): `flags grant`,
`contacts import --flags merge|replace` and the bulk REST API skip the bit that person refused
and say how many they skipped; a refusal the bulk paths recorded themselves does not bind
them; and a refusal recorded by import starts the consent-request cool-down (R8)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clearpixel.accounts import api_keys
from clearpixel.consent import record_decision
from clearpixel.domain.ledger import Method
from clearpixel.store.contacts import find_contact, get_contact
from clearpixel.web.app import create_app
from tests.helpers import make_contacts, make_list

OWN = [
    Method.SIGNUP_FORM,
    Method.CONSENT_PAGE,
    Method.PREFERENCE_PAGE,
    Method.ONE_CLICK_WITHDRAWAL,
    Method.ADMIN,
    Method.API_CONTACT,
]


def flags(ctx, cid: int) -> int | None:  # type: ignore[no-untyped-def]
    with ctx.db.connect() as conn:
        return get_contact(conn, cid).privacy_flags


@pytest.fixture
def refused(ctx):  # type: ignore[no-untyped-def]
    """person0 refused open tracking in each of the ways a person can, person1 was refused by
    a bulk revoke (not their own choice), person2 consented and withdrew themselves."""

    def make(method: Method) -> list[int]:
        ids = make_contacts(ctx, make_list(ctx), [None, 1, 1])
        record_decision(
            ctx.db, ids[0], revoked=1, method=method, now=ctx.now(), cooldown=ctx.cooldown
        )
        record_decision(
            ctx.db, ids[1], revoked=1, method=Method.BULK, now=ctx.now(), cooldown=ctx.cooldown
        )
        record_decision(
            ctx.db, ids[2], revoked=1, method=method, now=ctx.now(), cooldown=ctx.cooldown
        )
        return ids

    return make


def csv_file(tmp_path: Path, value: int) -> Path:
    path = tmp_path / "people.csv"
    rows = "".join(f"person{i}@example.org,{value}\n" for i in range(3))
    path.write_text("email,privacy_flags\n" + rows)
    return path


@pytest.mark.parametrize("method", OWN)
def test_flags_grant_skips_a_persons_own_refusal_and_says_so(cli, ctx, refused, method):
    own, by_bulk, withdrawn = refused(method)
    result = cli(
        "flags", "grant", "--list", "newsletter", "--purpose", "open_tracking", "--basis", "b"
    )
    assert (flags(ctx, own), flags(ctx, by_bulk), flags(ctx, withdrawn)) == (0, 1, 0)
    assert "2 skipped: refused or withdrawn by the contact" in result.stdout
    cli("flags", "check")


@pytest.mark.parametrize("mode", ["merge", "replace"])
@pytest.mark.parametrize("method", OWN)
def test_contacts_import_skips_a_persons_own_refusal_and_says_so(
    cli, ctx, refused, tmp_path, method, mode
):
    own, by_bulk, withdrawn = refused(method)
    result = cli(
        "contacts", "import", str(csv_file(tmp_path, 3)), "--list", "newsletter",
        "--flags", mode, "--basis", "crm export",
    )  # fmt: skip
    # the other purpose in the file is granted; open tracking is not, for those who refused
    assert (flags(ctx, own), flags(ctx, by_bulk), flags(ctx, withdrawn)) == (2, 3, 2)
    assert "2 skipped: refused or withdrawn by the contact" in result.stdout
    cli("flags", "check")


@pytest.mark.parametrize("method", OWN)
def test_the_bulk_api_and_api_import_skip_a_persons_own_refusal(ctx, refused, tmp_path, method):
    own, by_bulk, withdrawn = refused(method)
    _, secret = api_keys.create_api_key(ctx, "crm")
    with TestClient(create_app(ctx)) as api:
        api.headers["Authorization"] = f"Bearer {secret}"
        body = {"action": "grant", "purpose": "open_tracking", "basis": "crm sync"}
        answer = api.post("/api/v1/lists/1/bulk", json=body).json()
        assert answer["skipped_refused_by_contact"] == 2
        assert (flags(ctx, own), flags(ctx, by_bulk), flags(ctx, withdrawn)) == (0, 1, 0)
        with csv_file(tmp_path, 5).open("rb") as upload:
            imported = api.post(
                "/api/v1/lists/1/contacts/import",
                files={"file": ("people.csv", upload, "text/csv")},
                data={"flags_mode": "merge", "basis": "crm sync"},
            ).json()
        assert imported["skipped_refused_by_contact"] == 2
    assert (flags(ctx, own), flags(ctx, by_bulk), flags(ctx, withdrawn)) == (4, 5, 4)


def test_the_persons_own_new_consent_lifts_their_refusal(cli, ctx, refused):
    own, _, _ = refused(Method.PREFERENCE_PAGE)
    record_decision(
        ctx.db, own, granted=1, method=Method.CONSENT_PAGE, now=ctx.now(), cooldown=ctx.cooldown
    )
    record_decision(
        ctx.db, own, revoked=1, method=Method.BULK, now=ctx.now(), cooldown=ctx.cooldown
    )
    cli("flags", "grant", "--list", "newsletter", "--purpose", "open_tracking", "--basis", "b")
    assert flags(ctx, own) == 1


def test_a_refusal_recorded_by_import_starts_the_cooldown(cli, ctx, tmp_path):
    list_id = make_list(ctx)
    cli("contacts", "import", str(csv_file(tmp_path, 0)), "--list", "newsletter")
    with ctx.db.connect() as conn:
        found = find_contact(conn, list_id, "person0@example.org")
    assert found is not None and found.privacy_flags == 0
    assert found.consent_cooldown_until is not None
    # the CLI runs on the real clock: the cool-down counts from the import
    assert found.consent_cooldown_until.date() == (found.created_at + ctx.cooldown).date()


def test_flags_check_names_a_refusal_erased_behind_the_ledger(cli, ctx, refused):
    """Clearing a person's refusal with a raw UPDATE (so that a bulk grant would reach them)
    is caught like any other change behind the ledger's back."""
    from clearpixel.store.schema import contacts

    own, _, _ = refused(Method.CONSENT_PAGE)
    assert "3 contacts" in cli("flags", "check").stdout
    with ctx.db.begin() as tx:
        tx.execute(contacts.update().where(contacts.c.id == own).values(refused_flags=0))
    result = cli("flags", "check", ok=False)
    assert result.exit_code == 1
    assert f"contact {own} (person0@example.org): refused_flags is 0, the ledger says 1" in (
        result.output
    )
