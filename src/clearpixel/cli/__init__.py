"""The `clearpixel` command: thin Typer commands that call the services.

Each module holds one command group (or one top-level command), is named after it and registers
itself on `app` when imported; `ClearpixelGroup` turns every ClearpixelError into one clear line
and exit code 2.
"""

from __future__ import annotations

from clearpixel.cli import (
    apikeys,
    bounces,
    campaign,
    campaign_later,
    check,
    classify,
    consent,
    contacts,
    demo,
    flags,
    forms,
    ingest,
    init,
    ledger,
    lists,
    notices,
    report,
    retention,
    serve,
    subject,
    suppression,
    users,
    webhooks,
)
from clearpixel.cli.base import app

__all__ = [
    "apikeys",
    "app",
    "bounces",
    "campaign",
    "campaign_later",
    "check",
    "classify",
    "consent",
    "contacts",
    "demo",
    "flags",
    "forms",
    "ingest",
    "init",
    "ledger",
    "lists",
    "main",
    "notices",
    "report",
    "retention",
    "serve",
    "subject",
    "suppression",
    "users",
    "webhooks",
]


def main() -> None:
    """Console entry point."""
    app()
