"""Cells that a COPY line or hand-written JSON could mangle arrive intact (PostgreSQL stages
the rows through COPY text; SQLite inserts them)."""

import csv
import json

from tests.cli.test_contacts_import import write


def test_attributes_with_tabs_newlines_backslashes_quotes_and_unicode_round_trip(cli, tmp_path):
    cli("lists", "create", "newsletter")
    awkward = {
        "note": 'tab\there, "quoted"\nnew line\\N back\\slash \r end',
        "name": "Zoë 名前 \\t",
        "empty_looking": "\\N",
    }
    path = tmp_path / "awkward.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "privacy_flags", *awkward])
        writer.writerow(["ann@example.org", "1", *awkward.values()])
        writer.writerow(["bob@example.org", "", "plain", "", ""])
    cli("contacts", "import", str(path), "--list", "newsletter", "--basis", "a \\ basis\twith tab")
    exported = json.loads(
        cli("contacts", "export", "--list", "newsletter", "--format", "json").stdout
    )
    by_email = {row["email"]: row for row in exported}
    assert by_email["ann@example.org"]["attributes"] == awkward
    assert by_email["ann@example.org"]["privacy_flags"] == 1
    assert by_email["bob@example.org"]["attributes"] == {"note": "plain"}
    cli("flags", "check")
    cli("ledger", "verify")
    again = write(tmp_path, "email,note\nann@example.org,\n", "again.csv")
    cli("contacts", "import", str(again), "--list", "newsletter")
    exported = json.loads(
        cli("contacts", "export", "--list", "newsletter", "--format", "json").stdout
    )
    assert {r["email"]: r for r in exported}["ann@example.org"]["attributes"] == awkward


def test_a_nul_in_a_cell_is_refused_with_its_line_and_nothing_is_imported(cli, tmp_path):
    cli("lists", "create", "newsletter")
    path = tmp_path / "nul.csv"
    path.write_bytes(
        b"email,note\nann@example.org,fine\nbob@example.org,bad\x00cell\ncy@example.org,ok\n"
    )
    result = cli("contacts", "import", str(path), "--list", "newsletter", ok=False)
    assert result.exit_code == 2
    assert "line 3: column 'note' holds a NUL character" in result.output
    exported = cli("contacts", "export", "--list", "newsletter", "--format", "json").stdout
    assert json.loads(exported) == []
    skipped = cli(
        "contacts", "import", str(path), "--list", "newsletter", "--skip-invalid", ok=False
    )
    assert skipped.exit_code == 0, skipped.output
    exported = cli("contacts", "export", "--list", "newsletter", "--format", "json").stdout
    assert sorted(r["email"] for r in json.loads(exported)) == ["ann@example.org", "cy@example.org"]
