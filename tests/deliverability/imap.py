"""A small IMAP4rev1 server (RFC 3501) over a real socket, for the mailbox-polling tests:
LOGIN, SELECT, SEARCH ALL, FETCH n (RFC822), STORE n +FLAGS (\\Deleted), EXPUNGE, LOGOUT,
with tagged answers and literals as imaplib reads them."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.deliverability.pop3 import Mailbox, serving


@contextmanager
def imap_server(mailbox: Mailbox, folder: str = "INBOX") -> Iterator[Mailbox]:
    lock = threading.Lock()

    class Handler(socketserver.StreamRequestHandler):
        def send(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            mailbox.sessions += 1
            self.send("* OK [CAPABILITY IMAP4rev1] ready")
            authed, deleted = False, set()
            while raw := self.rfile.readline():
                tag, _, rest = raw.decode().strip().partition(" ")
                verb, _, arg = rest.partition(" ")
                verb = verb.upper()
                if verb == "CAPABILITY":
                    self.send("* CAPABILITY IMAP4rev1")
                    self.send(f"{tag} OK completed")
                elif verb == "LOGIN":
                    user, _, password = arg.partition(" ")
                    authed = (user.strip('"'), password.strip('"')) == (
                        mailbox.user,
                        mailbox.password,
                    )
                    answer = "OK signed in" if authed else "NO [AUTHENTICATIONFAILED]"
                    self.send(f"{tag} {answer}")
                elif verb == "LOGOUT":
                    self.send("* BYE")
                    self.send(f"{tag} OK completed")
                    return
                elif not authed:
                    self.send(f"{tag} NO sign in first")
                elif verb == "SELECT":
                    if arg.strip('"') != folder:
                        self.send(f"{tag} NO no such folder")
                        continue
                    self.send(f"* {len(mailbox.messages)} EXISTS")
                    self.send(f"{tag} OK [READ-WRITE] SELECT completed")
                elif verb == "SEARCH":
                    numbers = " ".join(str(i + 1) for i in range(len(mailbox.messages)))
                    self.send(f"* SEARCH {numbers}".rstrip())
                    self.send(f"{tag} OK completed")
                elif verb == "FETCH":
                    number = int(arg.split()[0])
                    data = mailbox.messages[number - 1]
                    self.wfile.write(b"* %d FETCH (RFC822 {%d}\r\n" % (number, len(data)))
                    self.wfile.write(data + b")\r\n")
                    self.send(f"{tag} OK completed")
                elif verb == "STORE":
                    number = int(arg.split()[0])
                    if "\\Deleted" in arg:
                        deleted.add(number - 1)
                    self.send(f"* {number} FETCH (FLAGS (\\Deleted))")
                    self.send(f"{tag} OK completed")
                elif verb == "EXPUNGE":
                    with lock:
                        for index in sorted(deleted, reverse=True):
                            self.send(f"* {index + 1} EXPUNGE")
                        mailbox.messages = [
                            m for i, m in enumerate(mailbox.messages) if i not in deleted
                        ]
                        deleted.clear()
                    self.send(f"{tag} OK completed")
                else:
                    self.send(f"{tag} BAD unknown command")

    with serving(Handler) as port:
        mailbox.port = port
        yield mailbox
