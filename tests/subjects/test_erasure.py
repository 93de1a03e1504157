"""Right to erasure: after `subject erase`, nothing of the person is left in any table or any
file the installation writes, the ledger still verifies (and still catches tampering), an
import cannot bring the person back, and the proof of consent says the address was erased
and when. Another person's data, of the same kinds, stays and is found by the same search."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest
import sqlalchemy as sa

from clearpixel.accounts import api_keys
from clearpixel.consent.proof import proof_for, render_proof_html
from clearpixel.reports.campaign import campaign_report
from clearpixel.store.ledger import iter_entries
from clearpixel.store.schema import metadata
from clearpixel.store.suppression import suppress
from clearpixel.store.webhooks import add_endpoint, enqueue
from clearpixel.subjects.erasure import erase_subject
from clearpixel.subjects.retention import run_retention
from tests.subjects.people import Person, populate


@pytest.fixture
def people(ctx):  # type: ignore[no-untyped-def]
    ana = populate(ctx, "ana@example.org", "Zephyrine", ip="203.0.113.77", tag="AnaAgent")
    bob = populate(ctx, "bob@example.org", "Quillon", ip="198.51.100.23", tag="BobAgent")
    with ctx.db.begin() as tx:
        endpoint = add_endpoint(
            tx, url="https://hooks.example.org/in", secret="s" * 32,
            events=["address.suppressed"], now=ctx.now(),
        )  # fmt: skip
        for person in (ana, bob):
            note = {"note": f"complaint from {person.email}"}
            suppress(tx, [person.email], reason="complaint", actor="t", evidence=note,
                     now=ctx.now())  # fmt: skip
            enqueue(tx, "address.suppressed", {"email": person.email}, now=ctx.now(),
                    only=[endpoint])  # fmt: skip
    outbox = ctx.settings.data_dir / "outbox" / "campaign1"
    outbox.mkdir(parents=True, exist_ok=True)
    for person in (ana, bob):  # what the outbox transport leaves for each recipient
        (outbox / f"{person.contact_ids[0]}.eml").write_bytes(
            f"To: {person.email}\r\nSubject: News\r\n\r\nHello {person.secret}\r\n".encode()
        )
    return ana, bob


def traces(person: Person) -> list[bytes]:
    """What must not survive the person's erasure: address, attribute, user agent, IP."""
    return [
        person.email.encode(),
        person.secret.encode(),
        person.user_agent.encode(),  # in the ledger's evidence (the tag also names campaigns)
        ".".join(person.ip.split(".")[:3]).encode() + b".",  # evidence keeps it truncated
    ]


def database_text(ctx) -> str:  # type: ignore[no-untyped-def]
    """Every column of every row of every table, as text."""
    chunks = []
    with ctx.db.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                chunks.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(chunks)


def files_bytes(ctx, settings) -> dict[Path, bytes]:  # type: ignore[no-untyped-def]
    """Every file the installation wrote: the SQLite database with its WAL and shared
    memory as they are on disk, and the data folder (spill and journal files, outbox,
    checkpoints, keys)."""
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    paths = [*database.parent.glob(database.name + "*"), *settings.data_dir.rglob("*")]
    return {p: p.read_bytes() for p in paths if p.is_file()}


def test_after_erasure_no_table_and_no_file_holds_the_person(ctx, cli, people, settings):
    ana, bob = people
    before = database_text(ctx)
    for trace in traces(ana) + traces(bob):
        assert trace.decode() in before  # the search finds what is there
    totals = campaign_report(ctx, "News for AnaAgent")

    result = cli("subject", "erase", "Ana@Example.org", "--reason", "request by email, 2 Nov")
    assert "erased from 2 list(s): newsletter, events" in result.output
    assert "keyed hash of the address" in result.output and "import" in result.output

    after = database_text(ctx)
    for trace in traces(ana):
        assert trace.decode() not in after, trace
    for trace in traces(bob):
        assert trace.decode() in after, trace
    if not ctx.db.is_postgres:
        written = files_bytes(ctx, settings)
        assert {p.suffix for p in written} >= {".db", ".eml"}
        for path, data in written.items():
            for trace in traces(ana):
                assert trace not in data, (path, trace)
        assert any(bob.email.encode() in data for data in written.values())
    assert campaign_report(ctx, "News for AnaAgent") == totals

    cli("ledger", "verify")
    cli("flags", "check")
    assert "2 entries belong to erased people" in cli("ledger", "verify").output


def test_the_ledger_still_catches_tampering_after_an_erasure(ctx, cli, people):
    ana, _ = people
    erase_subject(ctx, ana.email, reason="request", actor="dpo")
    cli("ledger", "verify")
    with ctx.db.begin() as tx:
        if ctx.db.is_postgres:
            tx.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            tx.exec_driver_sql("DROP TRIGGER consent_ledger_no_update")
        tx.exec_driver_sql("UPDATE consent_ledger SET granted = 0 WHERE seq = 3")
    assert "failed at seq 3" in cli("ledger", "verify", ok=False).output


def test_the_erasure_entry_names_who_when_why_and_nothing_personal(ctx, cli, people):
    ana, _ = people
    report = erase_subject(ctx, ana.email, reason="letter of 1 Nov", actor="dpo@org")
    with ctx.db.connect() as conn:
        erasures = [e for e in iter_entries(conn) if e.seq in report.ledger_entries]
    assert len(erasures) == 2
    for entry in erasures:
        assert (entry.method, entry.actor, entry.flags_after) == ("erasure", "dpo@org", 0)
        assert entry.email == "" and dict(entry.evidence) == {"reason": "letter of 1 Nov"}


def test_a_reimport_of_an_erased_address_is_refused_with_its_reason(ctx, cli, people, tmp_path):
    ana, _ = people
    erase_subject(ctx, ana.email, reason="request", actor="dpo")
    path = tmp_path / "again.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(
            [["email", "nickname"], [ana.email.upper(), "again"], ["new@example.org", "x"]]
        )
    refused = cli("contacts", "import", str(path), "--list", "newsletter", ok=False)
    assert refused.exit_code != 0
    assert "line 2: this address was erased at its owner's request" in refused.output
    skipped = cli("contacts", "import", str(path), "--list", "newsletter", "--skip-invalid")
    assert "1 rows, 1 created" in skipped.output
    assert "line 2: this address was erased at its owner's request" in skipped.output
    assert ana.email not in database_text(ctx) and "new@example.org" in database_text(ctx)


def test_erasing_an_unknown_address_says_so_and_changes_nothing(ctx, cli, people):
    ana, _ = people
    before = database_text(ctx)
    result = cli("subject", "erase", "nobody@example.org", "--reason", "x", ok=False)
    assert result.exit_code == 2
    assert "no list holds 'nobody@example.org': nothing to erase" in result.output
    assert "say why" in cli("subject", "erase", ana.email, ok=False).output
    assert database_text(ctx) == before
    erase_subject(ctx, ana.email, reason="request", actor="dpo")
    again = cli("subject", "erase", ana.email, "--reason", "x", ok=False)
    assert "was already erased on 2026-11-02; nothing is held" in again.output


def test_the_proof_for_an_erased_address_says_it_was_erased_and_when(ctx, people):
    ana, _ = people
    erase_subject(ctx, ana.email, reason="request by letter", actor="dpo")
    proof = proof_for(ctx, ana.email, "newsletter")
    assert proof["erased"]["at"].startswith("2026-11-02")
    assert proof["erased"]["reason"] == "request by letter"
    assert proof["contact"]["status"] == "erased"
    assert proof["all_verified"] is True
    signup, erasure = proof["entries"]
    assert signup["personal_erased"] and signup["evidence"] == {} and signup["salt"] is None
    assert erasure["method"] == "erasure" and erasure["personal_verified"] is True
    text = json.dumps(proof)
    assert "Zephyrine" not in text and "AnaAgent" not in text


def test_the_printable_proof_says_the_address_was_erased_and_when_in_both_languages(
    ctx, cli, people
):
    ana, _ = people
    erase_subject(ctx, ana.email, reason="request by letter", actor="dpo")
    seq = proof_for(ctx, ana.email, "newsletter")["erased"]["ledger_seq"]
    english = cli("consent", "proof", ana.email, "--list", "newsletter", "--format", "html")
    page = english.output
    assert "This address was erased at its owner's request on 2026-11-02" in page
    assert f"(ledger entry #{seq})" in page and "Reason given: request by letter" in page
    assert "erased with the address" in page and "Subscription" not in page
    french = render_proof_html(proof_for(ctx, ana.email, "newsletter"), locale="fr")
    assert "Cette adresse a été effacée à la demande de la personne le 2026-11-02" in french
    assert f"(entrée du registre n° {seq})" in french and "effacés avec l'adresse" in french
    for html in (page, french):
        assert "Zephyrine" not in html and "AnaAgent" not in html and "203.0.113" not in html
    kept = render_proof_html(proof_for(ctx, "bob@example.org", "newsletter"))
    assert "was erased" not in kept and "Subscription" in kept


def test_the_api_erases_with_an_admin_key_and_refuses_other_keys(ctx, people, live_server):
    ana, bob = people
    url = f"{live_server.url}/api/v1/subjects/erase"
    body = {"email": ana.email, "reason": "request"}
    _, signup_key = api_keys.create_api_key(ctx, "site", scope="signup", list_name="newsletter")
    _, list_key = api_keys.create_api_key(ctx, "one list", list_name="newsletter")
    _, editor_key = api_keys.create_api_key(ctx, "editor", role="editor")
    _, full_key = api_keys.create_api_key(ctx, "dpo")
    assert httpx2.post(url, json=body).status_code == 401
    for key in (signup_key, list_key, editor_key):
        answer = httpx2.post(url, json=body, headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 403
    for path in ("erase", "export"):  # a key limited to one list (admin role): both reach
        # every list the person is in
        answer = httpx2.post(
            f"{live_server.url}/api/v1/subjects/{path}",
            json=body,
            headers={"Authorization": f"Bearer {list_key}"},
        )
        assert answer.status_code == 403
        said = answer.json()["error"]["message"]
        assert "limited to one list" in said and "export or erasure covers every list" in said
    assert ana.email in database_text(ctx)
    answer = httpx2.post(url, json=body, headers={"Authorization": f"Bearer {full_key}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["lists"] == ["newsletter", "events"]
    assert "import" in answer.json()["kept"]
    assert ana.email not in database_text(ctx) and bob.email in database_text(ctx)


def test_after_erasure_the_export_says_so_and_retention_later_drops_the_reason(ctx, cli, people):
    ana, _ = people
    report = erase_subject(ctx, ana.email, reason="asked by phone by Ana", actor="dpo")
    said = cli("subject", "export", ana.email, ok=False).output
    assert "was erased on 2026-11-02: nothing is held on it" in said
    run_retention(ctx, ctx.now() + timedelta(days=365))  # inside the proof window
    with ctx.db.connect() as conn:
        kept = [e for e in iter_entries(conn) if e.seq in report.ledger_entries]
    assert all(dict(e.evidence) == {"reason": "asked by phone by Ana"} for e in kept)
    window = ctx.settings.retention_proof_after_erasure_days
    assert run_retention(ctx, ctx.now() + timedelta(days=window + 1)).erasure_reasons == 2
    with ctx.db.connect() as conn:
        kept = [e for e in iter_entries(conn) if e.seq in report.ledger_entries]
    assert [(e.method, e.actor, e.erased) for e in kept] == [("erasure", "dpo", True)] * 2
    assert "asked by phone" not in database_text(ctx)
    cli("ledger", "verify")
    cli("flags", "check")


def test_an_address_held_only_on_the_suppression_list_is_erased_from_it(ctx, cli):
    with ctx.db.begin() as tx:
        suppress(tx, ["only@example.org"], reason="complaint", actor="t",
                 evidence={"from": "only@example.org"}, now=ctx.now())  # fmt: skip
    result = cli("subject", "erase", "only@example.org", "--reason", "request")
    assert "erased from 0 list(s): none" in result.output
    assert "only@example.org" not in database_text(ctx)
    cli("ledger", "verify")
