"""The browser import's upload attacked over real HTTP: a body over the limit (announced, or
streamed without a length) is refused and nothing stays on disk; a file that is not UTF-8
CSV (Latin-1, UTF-16, binary, gzip: nothing is ever decompressed) is refused at once, named,
and not kept; a file name with a path in it stores nothing outside the upload folder; and
uploads never imported do not pile up."""

from __future__ import annotations

import gzip
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clearpixel.web.limits import MB, body_cap
from tests.security.conftest import signed_in
from tests.web.test_admin_i18n import plain

CSV = b"email,city\nzoe@example.org,Paris\n"


def _folder(ctx) -> Path:
    return ctx.settings.data_dir / "admin-imports"


def _stored(ctx) -> list[str]:
    folder = _folder(ctx)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _upload(editor, list_id: int, name: str, data: bytes, **kw: object):
    return editor.http.post(
        "/admin/import",
        data={"csrf": editor.csrf(), "list_id": str(list_id)},
        files={"file": (name, data, "text/csv")},
        **kw,
    )


def test_a_body_over_the_limit_is_refused_and_nothing_is_kept(ctx, installation):
    editor = signed_in(installation, "ed@example.org")
    cap = body_cap("POST", "/admin/import")
    assert cap == 200 * MB
    token = editor.csrf()
    head = (
        b'--XX\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'
        + token.encode()
        + b'\r\n--XX\r\nContent-Disposition: form-data; name="list_id"\r\n\r\n'
        + str(installation.lists["news"]).encode()
        + b'\r\n--XX\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nemail\n"
    )
    line = b"someone@example.org\n" * 50_000

    def streamed() -> Iterator[bytes]:
        yield head
        for _ in range(cap // len(line) + 2):
            yield line
        yield b"\r\n--XX--\r\n"

    multipart = {"Content-Type": "multipart/form-data; boundary=XX"}
    answer = editor.http.post("/admin/import", content=streamed(), headers=multipart)
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")  # a page: a browser sent it
    assert "larger than 200 MB" in answer.text and 'href="/admin/import"' in answer.text
    assert _stored(ctx) == []
    assert editor.get("/admin/import").status_code == 200  # the server carries on


def test_a_french_browser_announcing_too_much_gets_a_french_page_at_once(ctx, installation):
    host, port = installation.url.removeprefix("http://").split(":")
    request = (
        b"POST /admin/import HTTP/1.1\r\nHost: x\r\nCookie: cp_lang=fr\r\n"
        b"Content-Type: multipart/form-data; boundary=XX\r\n"
        b"Content-Length: 314572800\r\nConnection: close\r\n\r\n--XX\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"text/html" in head
    page = plain(body.decode())
    assert '<html lang="fr">' in page and "Rien n'a été enregistré" in page, page
    assert _stored(ctx) == []


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("latin1.csv", "email,city\nzoe@example.org,Montréal\n".encode("latin-1")),
        ("utf16.csv", "email,city\nzoe@example.org,Paris\n".encode("utf-16")),
        ("binary.csv", bytes(range(256)) * 64),
        ("people.csv.gz", gzip.compress(CSV * 1000)),
    ],
)
def test_a_file_that_is_not_utf8_csv_is_refused_named_and_not_kept(ctx, installation, name, data):
    editor = signed_in(installation, "ed@example.org")
    answer = _upload(editor, installation.lists["news"], name, data)
    assert answer.status_code == 400
    assert name in answer.text and "Nothing was stored" in answer.text
    assert _stored(ctx) == []


def test_a_path_in_the_file_name_stores_nothing_outside_the_upload_folder(ctx, installation):
    editor = signed_in(installation, "ed@example.org")
    answer = _upload(editor, installation.lists["news"], "../../../../evil.csv", CSV)
    assert answer.status_code == 200
    (stored,) = _stored(ctx)
    assert stored.endswith(".csv") and stored[:-4].isalnum()
    assert not (ctx.settings.data_dir.parent / "evil.csv").exists()
    assert not any(p.name == "evil.csv" for p in ctx.settings.data_dir.rglob("*"))


def test_uploads_never_imported_are_removed_a_day_later(ctx, installation):
    editor = signed_in(installation, "ed@example.org")
    assert _upload(editor, installation.lists["news"], "a.csv", CSV).status_code == 200
    (left,) = _stored(ctx)
    refused = _folder(ctx) / "0123abcd.rejected.csv"
    refused.write_bytes(b"email,reason\nann@example.org,bad\n")
    a_day_ago = time.time() - 24 * 3600 - 60
    for old in _folder(ctx).iterdir():
        os.utime(old, (a_day_ago, a_day_ago))
    assert _upload(editor, installation.lists["news"], "b.csv", CSV).status_code == 200
    now = _stored(ctx)
    assert left not in now and refused.name not in now and len(now) == 1
