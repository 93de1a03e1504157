"""`clearpixel contacts import` and `contacts export`, end to end through the CLI."""

import csv
import hashlib
import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from clearpixel.store.contacts import find_contact
from clearpixel.store.ledger import entries_for_contact, iter_entries
from clearpixel.store.lists import get_list


def write(tmp_path: Path, text: str, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def export(cli, list_name="newsletter", fmt="csv"):
    return cli("contacts", "export", "--list", list_name, "--format", fmt).stdout


def rows(cli, list_name="newsletter"):
    return {r["email"]: r for r in csv.DictReader(io.StringIO(export(cli, list_name)))}


def contact(ctx, email, list_name="newsletter"):
    with ctx.db.connect() as conn:
        return find_contact(conn, get_list(conn, list_name).id, email)


def ledger(ctx):
    with ctx.db.connect() as conn:
        return list(iter_entries(conn))


@pytest.fixture
def newsletter(cli):
    cli("lists", "create", "newsletter")
    return "newsletter"


def test_import_creates_contacts_with_null_flags_for_empty_cells_and_logs_each_grant(
    cli, ctx, tmp_path, newsletter
):
    path = write(
        tmp_path,
        "email,privacy_flags,locale,first_name\n"
        " Ann@Example.ORG ,1,fr,Ann\n"
        "bob@example.org,,en,Bob\n"
        "cleo@example.org,0,,Cléo\n",
    )
    result = cli("contacts", "import", str(path), "--list", newsletter, "--basis", "form v1")
    assert "3 created" in result.stdout
    assert "2 flags changes logged" in result.stdout

    found = rows(cli)
    assert found["ann@example.org"]["privacy_flags"] == "1"
    assert found["ann@example.org"]["locale"] == "fr"
    assert found["bob@example.org"]["privacy_flags"] == ""  # NULL: never asked
    assert found["cleo@example.org"]["privacy_flags"] == "0"
    assert found["cleo@example.org"]["first_name"] == "Cléo"
    assert found["cleo@example.org"]["locale"] == ""  # empty cell: no attribute

    ann = contact(ctx, "ann@example.org")
    assert ann.locale == "fr"
    with ctx.db.connect() as conn:
        (entry,) = entries_for_contact(conn, ann.id)
    assert entry.method == "import"
    assert (entry.flags_before, entry.flags_after) == (None, 1)
    assert entry.evidence == {
        "basis": "form v1",
        "source_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "source_file": "people.csv",
        "line": 2,
    }
    cli("ledger", "verify")
    cli("flags", "check")


def test_a_file_that_grants_consent_without_basis_is_refused_and_nothing_changes(
    cli, tmp_path, newsletter
):
    cli(
        "contacts",
        "import",
        str(write(tmp_path, "email\nold@example.org\n", "a.csv")),
        "--list",
        newsletter,
    )
    before = export(cli)
    path = write(tmp_path, "email,privacy_flags\nnew@example.org,0\nother@example.org,1\n")
    result = cli("contacts", "import", str(path), "--list", newsletter, ok=False)
    assert result.exit_code == 2
    assert "line 3 sets privacy_flags" in result.output
    assert "--basis" in result.output
    assert "Traceback" not in result.output
    assert export(cli) == before


def test_a_file_without_grants_needs_no_basis(cli, tmp_path, newsletter):
    path = write(tmp_path, "email,privacy_flags\nnew@example.org,0\nother@example.org,\n")
    cli("contacts", "import", str(path), "--list", newsletter)
    assert rows(cli)["new@example.org"]["privacy_flags"] == "0"


def test_bad_rows_are_named_by_line_and_nothing_is_stored(cli, ctx, tmp_path, newsletter):
    cli(
        "contacts",
        "import",
        str(write(tmp_path, "email,privacy_flags\nkeep@example.org,1\n", "first.csv")),
        "--list",
        newsletter,
        "--basis",
        "form v1",
    )
    before, entries_before = export(cli), len(ledger(ctx))
    path = write(
        tmp_path,
        "email,privacy_flags,city\n"
        "keep@example.org,3,Paris\n"  # line 2: fine (would change flags and attributes)
        "not-an-address,1,Lyon\n"  # line 3
        "x@example.org,abc,Nice\n"  # line 4
        "y@example.org,-2,Nice\n"  # line 5
        "z@example.org,8,Nice\n"  # line 6: bit 8 is no purpose
        "KEEP@example.org,1,Lille\n"  # line 7: duplicate of line 2
        "w@example.org,1\n",  # line 8: too few fields
    )
    result = cli("contacts", "import", str(path), "--list", newsletter, "--basis", "b", ok=False)
    assert result.exit_code == 2
    out = result.output
    assert "6 bad row(s), nothing was imported" in out
    assert "line 3: invalid email address 'not-an-address'" in out
    assert "line 4: privacy_flags 'abc' is not a non-negative integer" in out
    assert "line 5: privacy_flags -2 is negative" in out
    assert "line 6: privacy_flags 8 sets bits no purpose defines" in out
    assert "line 7: duplicate of line 2" in out
    assert "line 8: 2 fields where the header has 3" in out
    assert export(cli) == before
    assert len(ledger(ctx)) == entries_before


def test_skip_invalid_imports_good_rows_and_writes_rejected_ones_with_a_reason(
    cli, tmp_path, newsletter
):
    path = write(
        tmp_path,
        "email,privacy_flags\ngood@example.org,1\nbad@,1\ngood@example.org,0\nfine@example.org,\n",
    )
    rejected = tmp_path / "rejected.csv"
    result = cli(
        "contacts",
        "import",
        str(path),
        "--list",
        newsletter,
        "--basis",
        "form v1",
        "--skip-invalid",
        "--rejected",
        str(rejected),
    )
    assert "2 bad row(s) left out" in result.output
    assert set(rows(cli)) == {"good@example.org", "fine@example.org"}
    assert rows(cli)["good@example.org"]["privacy_flags"] == "1"  # the first occurrence wins
    lines = list(csv.reader(io.StringIO(rejected.read_text(encoding="utf-8"))))
    assert lines[0] == ["email", "privacy_flags", "reason"]
    assert lines[1][:2] == ["bad@", "1"] and "invalid email" in lines[1][2]
    assert lines[2] == ["good@example.org", "0", "duplicate of line 2"]


def test_merge_never_clears_replace_sets_exactly_ignore_leaves_flags(
    cli, ctx, tmp_path, newsletter
):
    seed = (
        "email,privacy_flags\na@example.org,3\nb@example.org,3\nc@example.org,\nd@example.org,5\n"
    )
    cli(
        "contacts",
        "import",
        str(write(tmp_path, seed, "seed.csv")),
        "--list",
        newsletter,
        "--basis",
        "seed",
    )
    change = (
        "email,privacy_flags\na@example.org,4\nb@example.org,\nc@example.org,\nd@example.org,0\n"
    )
    path = write(tmp_path, change, "change.csv")

    cli("contacts", "import", str(path), "--list", newsletter, "--flags", "ignore", "--basis", "x")
    assert {e: r["privacy_flags"] for e, r in rows(cli).items()} == {
        "a@example.org": "3",
        "b@example.org": "3",
        "c@example.org": "",
        "d@example.org": "5",
    }
    cli("contacts", "import", str(path), "--list", newsletter, "--basis", "x")  # merge
    assert {e: r["privacy_flags"] for e, r in rows(cli).items()} == {
        "a@example.org": "7",
        "b@example.org": "3",
        "c@example.org": "",
        "d@example.org": "5",
    }
    cli("contacts", "import", str(path), "--list", newsletter, "--flags", "replace", "--basis", "x")
    # Empty cells leave flags as they are, NULL included; 0 records a refusal.
    assert {e: r["privacy_flags"] for e, r in rows(cli).items()} == {
        "a@example.org": "4",
        "b@example.org": "3",
        "c@example.org": "",
        "d@example.org": "0",
    }
    a = contact(ctx, "a@example.org")
    with ctx.db.connect() as conn:
        last = entries_for_contact(conn, a.id)[-1]
    assert (last.granted, last.revoked, last.flags_before, last.flags_after) == (0, 3, 7, 4)
    assert contact(ctx, "d@example.org").consent_cooldown_until is not None  # bit 1 withdrawn
    cli("flags", "check")
    cli("ledger", "verify")


def test_reimporting_the_same_file_logs_nothing_new(cli, ctx, tmp_path, newsletter):
    path = write(tmp_path, "email,privacy_flags\na@example.org,1\nb@example.org,0\n")
    cli("contacts", "import", str(path), "--list", newsletter, "--basis", "form v1")
    count = len(ledger(ctx))
    result = cli("contacts", "import", str(path), "--list", newsletter, "--basis", "form v1")
    assert "0 created" in result.stdout and "0 flags changes logged" in result.stdout
    assert len(ledger(ctx)) == count


def test_status_unsubscribed_applies_but_import_never_resubscribes(cli, ctx, tmp_path, newsletter):
    cli(
        "contacts",
        "import",
        str(
            write(tmp_path, "email,status\na@example.org,unsubscribed\nb@example.org,\n", "one.csv")
        ),
        "--list",
        newsletter,
    )
    assert contact(ctx, "a@example.org").status == "unsubscribed"
    cli(
        "contacts",
        "import",
        str(
            write(
                tmp_path,
                "email,status\na@example.org,subscribed\nb@example.org,unsubscribed\n",
                "two.csv",
            )
        ),
        "--list",
        newsletter,
    )
    assert contact(ctx, "a@example.org").status == "unsubscribed"
    assert contact(ctx, "b@example.org").status == "unsubscribed"


def test_attributes_of_existing_contacts_are_updated_not_erased(cli, ctx, tmp_path, newsletter):
    cli(
        "contacts",
        "import",
        str(write(tmp_path, "email,city,locale\na@example.org,Paris,fr\n", "one.csv")),
        "--list",
        newsletter,
    )
    cli(
        "contacts",
        "import",
        str(write(tmp_path, "email,city,locale\na@example.org,Lyon,\n", "two.csv")),
        "--list",
        newsletter,
    )
    assert contact(ctx, "a@example.org").attributes == {"city": "Lyon", "locale": "fr"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--list", "nope"], "no list named 'nope'"),
        (["--list", "newsletter", "--flags", "maybe"], "maybe"),
    ],
)
def test_clear_errors_for_unknown_list_and_mode(cli, tmp_path, newsletter, args, message):
    path = write(tmp_path, "email\na@example.org\n")
    result = cli("contacts", "import", str(path), *args, ok=False)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mail,name\na@example.org,A\n", "no 'email' column"),
        ("email,email\na@example.org,b@example.org\n", "appears twice"),
        ("", "is empty"),
    ],
)
def test_malformed_files_are_refused(cli, tmp_path, newsletter, text, message):
    result = cli("contacts", "import", str(write(tmp_path, text)), "--list", newsletter, ok=False)
    assert result.exit_code == 2
    assert message in result.output


def test_a_file_that_is_not_utf8_is_refused(cli, tmp_path, newsletter):
    path = tmp_path / "latin1.csv"
    path.write_bytes("email,name\na@example.org,Zoë\n".encode("latin-1"))
    result = cli("contacts", "import", str(path), "--list", newsletter, ok=False)
    assert result.exit_code == 2
    assert "not UTF-8" in result.output
    assert rows(cli) == {}


def test_export_json_has_null_flags_and_no_last_open_date(cli, ctx, tmp_path, newsletter):
    from clearpixel.store.schema import contacts

    path = write(tmp_path, "email,privacy_flags,locale\na@example.org,1,fr\nb@example.org,,\n")
    cli("contacts", "import", str(path), "--list", newsletter, "--basis", "form v1")
    with ctx.db.begin() as tx:  # deliverability data (R6) must never reach an export
        tx.execute(contacts.update().values(last_open_date=ctx.now().date()))
    data = json.loads(export(cli, fmt="json"))
    assert data == [
        {
            "email": "a@example.org",
            "privacy_flags": 1,
            "status": "subscribed",
            "attributes": {"locale": "fr"},
        },
        {"email": "b@example.org", "privacy_flags": None, "status": "subscribed", "attributes": {}},
    ]
    day = ctx.now().date().isoformat()
    assert day not in export(cli) and day not in export(cli, fmt="json")
    assert "last_open" not in export(cli)


def test_export_to_a_file_and_empty_list(cli, tmp_path, newsletter):
    out = tmp_path / "out.json"
    cli("contacts", "export", "--list", newsletter, "--format", "json", "--output", str(out))
    assert json.loads(out.read_text()) == []


def test_import_through_the_installed_command(cli_env, cli, tmp_path, newsletter):
    path = write(tmp_path, "email,privacy_flags\na@example.org,1\n")
    env = {**os.environ, **cli_env}
    done = subprocess.run(
        [
            "uv",
            "run",
            "--quiet",
            "clearpixel",
            "contacts",
            "import",
            str(path),
            "--list",
            newsletter,
            "--basis",
            "form v1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "1 created" in done.stdout
    cli("ledger", "verify")
    assert rows(cli)["a@example.org"]["privacy_flags"] == "1"
