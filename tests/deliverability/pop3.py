"""A small POP3 server (RFC 1939) over a real socket, for the mailbox-polling tests: USER,
PASS, STAT, LIST, RETR (dot-stuffed), DELE, RSET, NOOP, QUIT; deletions take effect at QUIT,
as the protocol says."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Mailbox:
    user: str
    password: str
    messages: list[bytes] = field(default_factory=list)
    port: int = 0
    sessions: int = 0


@contextmanager
def pop3_server(mailbox: Mailbox) -> Iterator[Mailbox]:
    lock = threading.Lock()

    class Handler(socketserver.StreamRequestHandler):
        def send(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            mailbox.sessions += 1
            self.send("+OK POP3 ready")
            user, authed, deleted = "", False, set()
            while raw := self.rfile.readline():
                verb, _, arg = raw.decode().strip().partition(" ")
                verb = verb.upper()
                if verb == "USER":
                    user = arg
                    self.send("+OK")
                elif verb == "PASS":
                    authed = user == mailbox.user and arg == mailbox.password
                    self.send("+OK signed in" if authed else "-ERR [AUTH] invalid credentials")
                elif not authed and verb != "QUIT":
                    self.send("-ERR sign in first")
                elif verb == "STAT":
                    live = [m for i, m in enumerate(mailbox.messages) if i not in deleted]
                    self.send(f"+OK {len(live)} {sum(map(len, live))}")
                elif verb == "LIST":
                    self.send("+OK")
                    for i, m in enumerate(mailbox.messages):
                        if i not in deleted:
                            self.send(f"{i + 1} {len(m)}")
                    self.send(".")
                elif verb == "RETR":
                    message = mailbox.messages[int(arg) - 1]
                    self.send(f"+OK {len(message)} octets")
                    for line in message.replace(b"\r\n", b"\n").split(b"\n"):
                        self.wfile.write((b"." + line if line.startswith(b".") else line) + b"\r\n")
                    self.send(".")
                elif verb == "DELE":
                    deleted.add(int(arg) - 1)
                    self.send("+OK deleted")
                elif verb == "RSET":
                    deleted.clear()
                    self.send("+OK")
                elif verb == "NOOP":
                    self.send("+OK")
                elif verb == "QUIT":
                    with lock:
                        mailbox.messages = [
                            m for i, m in enumerate(mailbox.messages) if i not in deleted
                        ]
                    self.send("+OK bye")
                    return
                else:
                    self.send("-ERR unknown command")

    with serving(Handler) as port:
        mailbox.port = port
        yield mailbox


@contextmanager
def serving(handler: type[socketserver.BaseRequestHandler]) -> Iterator[int]:
    """A threaded TCP server on a free local port, for the length of the block."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
