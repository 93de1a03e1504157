"""`clearpixel suppression ls|add|rm|export`: the installation-wide suppression list."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer

from clearpixel.cli.base import console, context, err_console, group, print_json
from clearpixel.domain.bounces import SuppressionReason

suppression_app = group("suppression", "The installation-wide suppression list.")

REASONS = ", ".join(r.value for r in SuppressionReason)


def _actor(given: str | None) -> str:
    return given or f"cli:{getpass.getuser()}"


@suppression_app.command("ls")
def suppression_ls(
    reason: str | None = typer.Option(None, "--reason", help=f"Only this reason: {REASONS}."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Suppressed addresses, in address order."""
    from rich.table import Table

    from clearpixel.deliverability import suppression

    with context() as ctx:
        found = suppression.listing(ctx, reason=reason, limit=limit)
    if as_json:
        print_json(
            [
                {
                    "address": s.address,
                    "reason": s.reason,
                    "since": s.since.isoformat(),
                    "actor": s.actor,
                    "evidence": s.evidence,
                }
                for s in found
            ]
        )
        return
    table = Table("address", "reason", "since", "actor")
    for s in found:
        table.add_row(s.address, s.reason, f"{s.since:%Y-%m-%d %H:%M}", s.actor)
    console.print(table)


@suppression_app.command("add")
def suppression_add(
    email: str = typer.Argument(..., help="The address to suppress."),
    reason: str = typer.Option("manual", "--reason", help=REASONS),
    note: str = typer.Option("", "--note", help="Evidence kept with the entry."),
    actor: str | None = typer.Option(None, "--actor", help="Who (default: cli:<user>)."),
) -> None:
    """Put an address on the suppression list: no mail of any kind goes to it."""
    from clearpixel.deliverability import suppression

    with context() as ctx:
        added = suppression.add(ctx, email, reason=reason, actor=_actor(actor), note=note)
    console.print(f"{email}: " + ("suppressed" if added else "already suppressed (unchanged)"))


@suppression_app.command("rm")
def suppression_rm(
    email: str = typer.Argument(..., help="The address to take off the list."),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the log)."),
    actor: str | None = typer.Option(None, "--actor", help="Who (default: cli:<user>)."),
) -> None:
    """Take an address off the suppression list (logged with actor and reason)."""
    from clearpixel.deliverability import suppression

    with context() as ctx:
        suppression.remove(ctx, email, actor=_actor(actor), reason=reason)
    console.print(f"{email}: no longer suppressed")


@suppression_app.command("export")
def suppression_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV file (default: stdout).")
    ] = None,
) -> None:
    """The whole list as CSV: address, reason, since, actor, evidence."""
    from clearpixel.deliverability import suppression

    with context() as ctx:
        if output is None:
            for chunk in suppression.export_csv(ctx):
                sys.stdout.write(chunk)
            sys.stdout.flush()
            return
        with open(output, "w", encoding="utf-8", newline="") as handle:
            for chunk in suppression.export_csv(ctx):
                handle.write(chunk)
    err_console.print(f"written to {output}")
