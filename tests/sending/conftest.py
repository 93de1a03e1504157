"""Fixtures of the send path: real SMTP servers (aiosmtpd) and contacts that could leak."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from clearpixel.consent import record_decisions
from clearpixel.context import Context
from clearpixel.domain.ledger import Decision, Method
from clearpixel.store.contacts import insert_contacts


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class Handler:
    """Accepts every message; `defer_first` answers 451 to each recipient's first attempt;
    `refuse` answers 550 for those recipients; `delay` slows every DATA down."""

    defer_first: bool = False
    refuse: set[str] = field(default_factory=set)
    messages: list[Received] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        rcpt = envelope.rcpt_tos[0]
        if rcpt in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        with self.lock:
            if self.defer_first and rcpt not in self.deferred:
                self.deferred.append(rcpt)
                return "451 4.3.0 try again later"
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
            )
        return "250 OK"


class SmtpServer:
    def __init__(self, handler: Handler, **options: Any) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.handler = handler
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port, **options)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?backoff=0.01&timeout=10"

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(Handler())
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def flaky_smtp_server() -> Iterator[SmtpServer]:
    """Answers 451 the first time each recipient is tried, then accepts."""
    server = SmtpServer(Handler(defer_first=True))
    server.controller.start()
    yield server
    server.controller.stop()


def add_contacts(
    ctx: Context,
    list_id: int,
    people: list[tuple[str, int | None, dict[str, Any]]],
    *,
    now: datetime | None = None,
) -> dict[str, int]:
    """Contacts (email, flags, attributes) with flags set through the ledger; email -> id."""
    at = now or ctx.now()
    rows = [{"list_id": list_id, "email": e, "attributes": a} for e, _, a in people]
    with ctx.db.begin() as tx:
        ids = insert_contacts(tx, rows, now=at)
        decisions = [
            Decision(
                contact_id=cid,
                list_id=list_id,
                email=email,
                granted=flags,
                revoked=0,
                method=Method.IMPORT,
                at=at,
                evidence={"basis": "test fixture"},
            )
            for cid, (email, flags, _) in zip(ids, people, strict=True)
            if flags is not None
        ]
        record_decisions(tx, decisions, cooldown=ctx.cooldown)
    return {email: cid for (email, _, _), cid in zip(people, ids, strict=True)}
