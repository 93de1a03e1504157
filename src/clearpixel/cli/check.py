"""`clearpixel check`: the installation's compliance, one line per obligation."""

from __future__ import annotations

import typer

from clearpixel.cli.base import app, console, context, print_json


@app.command()
def check(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Check strategy, keys, public URL, ledger chain, flags and notices; exit 1 if any
    obligation is not met."""
    from clearpixel.reports.compliance import Status, check_installation, compliant

    with context() as ctx:
        findings = check_installation(ctx)
    if as_json:
        print_json(
            [
                {"topic": str(f.topic), "status": str(f.status), "detail": str(f.detail)}
                for f in findings
            ]
        )
    else:
        colours = {Status.OK: "green", Status.WARNING: "yellow", Status.FAIL: "bold red"}
        for f in findings:
            console.print(f"[{colours[f.status]}]{f.status:>13}[/]  {f.topic}: {f.detail}")
        console.print("compliant" if compliant(findings) else "[bold red]NOT COMPLIANT[/]")
    if not compliant(findings):
        raise typer.Exit(code=1)
