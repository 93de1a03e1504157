"""`clearpixel demo`: a ready-to-explore installation in the data folder, built through the
real paths (CSV import, campaign send, simulated recipients over real HTTP). The work is in
cli/demo_run.py, imported when the command runs, so the rest of the CLI starts without the
web stack it needs."""

from __future__ import annotations

import typer

from clearpixel.cli.base import app


@app.command()
def demo(
    contacts: int = typer.Option(3000, min=50, max=50000, help="Contacts to generate."),
    seed: int = typer.Option(2026, help="Seed of the generated contacts and behaviour."),
) -> None:
    """Build a ready-to-explore installation: contacts, two campaigns, simulated traffic
    through the real endpoints, then the reports and how to sign in."""
    from clearpixel.cli.demo_run import run

    run(contacts=contacts, seed=seed)
