"""`clearpixel serve` says where it answers and warns when the URL emails link to does not
point at it (pixels, clicks and consent links would then never arrive)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from clearpixel.cli.serve import startup_lines


def test_matching_base_url_gives_no_warning():
    lines, warnings = startup_lines("http://127.0.0.1:8000", "127.0.0.1", 8000)
    assert "http://127.0.0.1:8000/admin" in "\n".join(lines)
    assert warnings == []


def test_a_base_url_on_another_port_is_a_warning_naming_both():
    _, [warning] = startup_lines("http://127.0.0.1:8000", "0.0.0.0", 9000)
    assert "port 9000" in warning and "CLEARPIXEL_BASE_URL=http://127.0.0.1:9000" in warning


def test_a_public_base_url_is_a_reminder_of_the_proxy():
    _, [warning] = startup_lines("https://mail.example.org", "127.0.0.1", 8000)
    assert "reverse proxy" in warning


def test_serve_prints_its_urls_and_the_warning(cli_env, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, **cli_env, "CLEARPIXEL_BASE_URL": "http://127.0.0.1:1"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from clearpixel.cli import main; main()", "serve",
         "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
    finally:
        process.terminate()
        out, err = process.communicate(timeout=60)
    assert f"clearpixel answers on http://127.0.0.1:{port}" in out
    assert f"http://127.0.0.1:{port}/api/v1/docs" in out
    assert "warning:" in err and f"answers on port {port}" in " ".join(err.split())
