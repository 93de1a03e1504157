"""The `clearpixel` command: thin Typer commands that call the services.

Each group of commands lives in its own module and registers itself on `app` when imported;
`ClearpixelGroup` turns every ClearpixelError into one clear line and exit code 2.
"""

from __future__ import annotations

from clearpixel.cli import (
    admin_cmds,
    campaigns,
    check,
    consent_cmds,
    deliverability_cmds,
    demo,
    foundation,
    serve,
    subject_cmds,
    tracking_cmds,
)
from clearpixel.cli.base import app

__all__ = [
    "admin_cmds",
    "app",
    "campaigns",
    "check",
    "consent_cmds",
    "deliverability_cmds",
    "demo",
    "foundation",
    "main",
    "serve",
    "subject_cmds",
    "tracking_cmds",
]


def main() -> None:
    """Console entry point."""
    app()
