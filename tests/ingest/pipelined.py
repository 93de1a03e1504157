"""A client that sends many GETs over one connection with HTTP/1.1 pipelining (requests
written in rounds, answers read back in order), so a test can send 100,000 hits on two cores
in seconds. Each answer is checked: status and body."""

from __future__ import annotations

import socket
from collections.abc import Sequence

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"


def _request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {UA}\r\n\r\n".encode("latin-1")


def pipelined(port: int, paths: Sequence[str], *, depth: int = 100) -> list[tuple[int, bytes]]:
    """GET every path, `depth` requests in flight at a time; (status, body) of each answer,
    in order."""
    answers: list[tuple[int, bytes]] = []
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        buffer = b""
        for start in range(0, len(paths), depth):
            chunk = paths[start : start + depth]
            sock.sendall(b"".join(_request(path) for path in chunk))
            wanted = len(answers) + len(chunk)
            while len(answers) < wanted:
                head_end = buffer.find(b"\r\n\r\n")
                if head_end < 0:
                    buffer += _receive(sock)
                    continue
                head = buffer[:head_end].decode("latin-1").split("\r\n")
                length = 0
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                end = head_end + 4 + length
                while len(buffer) < end:
                    buffer += _receive(sock)
                answers.append((int(head[0].split()[1]), buffer[head_end + 4 : end]))
                buffer = buffer[end:]
    return answers


def _receive(sock: socket.socket) -> bytes:
    data = sock.recv(1 << 16)
    if not data:
        raise ConnectionError("the server closed the connection")
    return data
