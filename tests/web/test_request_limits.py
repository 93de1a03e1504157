"""Requests bounded before they cost, over real HTTP against `clearpixel serve` (its memory
read from /proc): the API checks the key before it reads a body, bodies are capped per route,
request heads are capped, idle and trickling connections are closed, ids beyond the integer
range are 404."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading

import pytest
from fastapi.testclient import TestClient

from clearpixel.accounts import api_keys, users
from clearpixel.store.lists import all_lists
from clearpixel.web import connections, limits
from clearpixel.web.app import create_app
from clearpixel.web.server import ThreadedServer
from tests.helpers import make_list
from tests.web.served import serve
from tests.web.test_admin import PASSWORD, sign_in

MB = 1024 * 1024


@pytest.fixture
def served(cli_env, tmp_path):
    with serve(cli_env, tmp_path) as server:
        yield server


def send_head(port: int, head: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head)
    return sock


def read_status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0


def stream_body(sock: socket.socket, size: int) -> int:
    """Send up to `size` bytes of body; stops when the server closes. Returns bytes sent."""
    sent = 0
    block = b"[" + b"1," * (MB // 2 - 1) + b"1]"
    try:
        while sent < size:
            sock.sendall(block)
            sent += len(block)
    except OSError:
        pass
    return sent


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "multipart/form-data; boundary=x"],
    ids=["json", "multipart"],
)
def test_a_body_without_a_key_is_refused_before_it_is_read(served, content_type):
    before = served.rss()
    sock = send_head(
        served.port,
        b"POST /api/v1/lists/1/contacts/import HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: " + content_type.encode() + b"\r\nContent-Length: 268435456\r\n\r\n",
    )
    try:
        # the answer comes before a byte of the 256 MB body was sent
        assert read_status(sock) == 401
        sent = stream_body(sock, 64 * MB)
    finally:
        sock.close()
    assert sent < 64 * MB  # the server closed the connection instead of reading on
    assert served.rss() - before < 32 * MB


def test_a_chunked_body_without_a_key_is_refused_before_it_is_read(served):
    before = served.rss()
    sock = send_head(
        served.port,
        b"POST /api/v1/lists HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
    )
    try:
        assert read_status(sock) == 401
    finally:
        sock.close()
    assert served.rss() - before < 32 * MB


def test_a_json_body_over_the_routes_cap_is_refused_with_a_key(ctx, served):
    _, key = api_keys.create_api_key(ctx, "test")
    before = served.rss()
    sock = send_head(
        served.port,
        b"POST /api/v1/lists HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 268435456\r\n\r\n",
    )
    try:
        assert read_status(sock) == 413
    finally:
        sock.close()
    chunked = send_head(
        served.port,
        b"POST /api/v1/lists HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    try:
        for _ in range(3):  # 3 MB in 1 MB chunks, over the 1 MB cap
            chunked.sendall(b"%x\r\n" % MB + b" " * MB + b"\r\n")
        assert read_status(chunked) == 413
    finally:
        chunked.close()
    assert served.rss() - before < 32 * MB
    with ctx.db.connect() as conn:
        assert all_lists(conn) == []


def test_the_csv_import_is_cut_at_its_cap_and_imports_nothing(ctx, monkeypatch):
    """The import's cap (200 MB served) is lowered here so the test sends little."""
    monkeypatch.setattr(
        limits,
        "CAPS",
        tuple((m, p, MB if "import" in p.pattern else cap) for m, p, cap in limits.CAPS),
    )
    list_id = make_list(ctx)
    _, key = api_keys.create_api_key(ctx, "test")
    rows = b"email\n" + b"".join(b"p%07d@example.org\n" % i for i in range(200_000))
    body = (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + rows + b"\r\n--x--\r\n"
    )
    with ThreadedServer(ctx) as server:
        for framing in ("length", "chunked"):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            headers = {
                "Authorization": f"Bearer {key}",
                "Content-Type": "multipart/form-data; boundary=x",
            }
            try:
                if framing == "length":
                    conn.request("POST", f"/api/v1/lists/{list_id}/contacts/import", body, headers)
                else:
                    conn.request(
                        "POST",
                        f"/api/v1/lists/{list_id}/contacts/import",
                        iter([body[i : i + 65536] for i in range(0, len(body), 65536)]),
                        {**headers, "Transfer-Encoding": "chunked"},
                    )
                response = conn.getresponse()
                assert response.status == 413, response.read()
                assert b"larger than 1 MB" in response.read()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered and closed while the rest was being sent
            finally:
                conn.close()
    from clearpixel.audience.contacts import count_contacts

    assert count_contacts(ctx, list_id) == 0


def test_a_huge_request_head_is_refused_and_the_server_stays_small(served):
    before = served.rss()
    for i in range(40):
        sock = send_head(served.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: ")
        try:
            sent = 0
            try:
                while sent < MB:
                    sock.sendall(bytes([97 + i % 26]) * 65536)
                    sent += 65536
                sock.sendall(b"\r\n\r\n")
            except OSError:
                pass
            assert read_status(sock) == 431
        finally:
            sock.close()
    # a pixel with a 100 KB user agent: refused as well
    sock = send_head(
        served.port,
        b"GET /o/a/x.gif HTTP/1.1\r\nHost: x\r\nUser-Agent: " + b"u" * 100_000 + b"\r\n\r\n",
    )
    try:
        assert read_status(sock) == 431
    finally:
        sock.close()
    assert served.rss() - before < 32 * MB
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    conn.request("GET", "/healthz", headers={"User-Agent": "ordinary/1.0"})
    assert conn.getresponse().status == 200
    conn.close()


TRICKLE = b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 100


def test_idle_and_trickling_connections_are_closed(ctx, monkeypatch):
    monkeypatch.setattr(connections, "HEAD_TIMEOUT", 1.0)
    monkeypatch.setattr(connections, "BODY_TIMEOUT", 1.0)
    with ThreadedServer(ctx) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(100)]
        trickling = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(100)]
        slow_body = socket.create_connection(("127.0.0.1", server.port))
        slow_body.sendall(
            b"POST /admin/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\nusername=adm"
        )
        stop = threading.Event()

        def trickle() -> None:
            for n in range(40):
                for sock in trickling:
                    with contextlib.suppress(OSError):
                        sock.sendall(TRICKLE[n : n + 1])
                if stop.wait(0.1):
                    return

        thread = threading.Thread(target=trickle)
        thread.start()
        try:
            for sock in [*idle, *trickling, slow_body]:
                sock.settimeout(15)
                assert sock.recv(4096) == b""  # closed by the server
        finally:
            stop.set()
            thread.join()
            for sock in [*idle, *trickling, slow_body]:
                sock.close()
        # a prompt client is served as before
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        conn.close()


def test_ids_beyond_the_integer_range_are_404_in_the_api_and_the_admin(ctx):
    users.ensure_admin(ctx, password=PASSWORD)
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as client:
        sign_in(client)
        ids_are_404(ctx, client)


def ids_are_404(ctx, client):
    _, key = api_keys.create_api_key(ctx, "test")
    headers = {"Authorization": f"Bearer {key}"}
    for big in (str(2**31), str(2**63), "9" * 30):
        for path in (
            f"/api/v1/lists/{big}",
            f"/api/v1/contacts/{big}",
            f"/api/v1/contacts/{big}/history",
            f"/api/v1/campaigns/{big}",
            f"/api/v1/lists/{big}/contacts",
        ):
            assert client.get(path, headers=headers).status_code == 404, path
        for path in (
            f"/admin/campaigns/{big}",
            f"/admin/lists/{big}",
            f"/admin/contacts/{big}",
            f"/admin/contacts/{big}/proof",
        ):
            assert client.get(path).status_code == 404, path


def test_a_nul_in_an_uploaded_csv_is_refused_with_its_line(ctx):
    list_id = make_list(ctx)
    _, key = api_keys.create_api_key(ctx, "test")
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as client:
        response = client.post(
            f"/api/v1/lists/{list_id}/contacts/import",
            headers={"Authorization": f"Bearer {key}"},
            files={"file": ("a.csv", b"email,note\nann@example.org,x\nbob@example.org,a\x00b\n")},
        )
    assert response.status_code == 400
    assert "line 3: column 'note' holds a NUL character" in response.json()["error"]["message"]
