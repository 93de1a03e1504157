"""Fixtures of the deliverability tests: an SMTP server that refuses chosen recipients at
RCPT TO, as a mailbox provider does, and a settings variant with a bounce domain."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from clearpixel.config import Settings
from clearpixel.context import Context, open_context
from clearpixel.store.purposes import sync_purposes
from tests.conftest import FIXED_NOW

BOUNCE_DOMAIN = "bounces.example.test"
RELAY_SECRET = "relay-secret-0123456789abcdef"


@dataclass
class RefusingHandler:
    """Accepts every recipient except those in `hard` (550 5.1.1), `soft` (451 4.2.1, every
    time) and `full` (552 5.2.2); `data_reply` answers DATA for everyone when set."""

    hard: set[str] = field(default_factory=set)
    soft: set[str] = field(default_factory=set)
    full: set[str] = field(default_factory=set)
    data_reply: str | None = None
    accepted: list[tuple[str, str, bytes]] = field(default_factory=list)
    rcpt_attempts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            self.rcpt_attempts.append(address)
        if address in self.hard:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if address in self.soft:
            return "451 4.2.1 Mailbox temporarily unavailable, try later"
        if address in self.full:
            return "552 5.2.2 Mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        with self.lock:
            self.accepted.append((envelope.mail_from, envelope.rcpt_tos[0], envelope.content))
        return "250 OK"


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return int(port)


@dataclass
class RefusingServer:
    handler: RefusingHandler
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?backoff=0.01&retries=2&timeout=10"


@pytest.fixture
def refusing_smtp() -> Iterator[RefusingServer]:
    handler = RefusingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield RefusingServer(handler, port)
    controller.stop()


@pytest.fixture
def bounce_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "bounce_domain": BOUNCE_DOMAIN,
            "soft_bounce_limit": 2,
            "bounce_webhook_secrets": ["rotated-out-secret-abcdef012345", RELAY_SECRET],
        }
    )


@contextmanager
def context_for(settings: Settings) -> Iterator[Context]:
    """A context of the test's database with these settings, at the fixed test time."""
    context = open_context(settings)
    context.now = lambda: FIXED_NOW
    with context.db.begin() as tx:
        sync_purposes(tx, context.purposes)
    try:
        yield context
    finally:
        context.db.dispose()


@pytest.fixture
def bctx(bounce_settings: Settings) -> Iterator[Context]:
    """A context whose installation has a bounce domain and a soft-bounce limit of 2."""
    with context_for(bounce_settings) as context:
        yield context
