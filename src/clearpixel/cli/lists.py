"""`clearpixel lists create|ls`."""

from __future__ import annotations

import typer

from clearpixel.cli.base import console, context, lists_app, print_json


@lists_app.command("create")
def lists_create(name: str) -> None:
    """Create an audience list."""
    from clearpixel.audience import lists as list_service

    with context() as ctx:
        created = list_service.create_list(ctx, name)
    console.print(f"created list {created.name!r} (id {created.id})")


@lists_app.command("ls")
def lists_ls(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show every list with its number of contacts."""
    from clearpixel.audience import lists as list_service

    with context() as ctx:
        found = list_service.all_lists(ctx)
    if as_json:
        print_json(
            [
                {
                    "id": x.id,
                    "name": x.name,
                    "contacts": x.contacts,
                    "created_at": x.created_at.isoformat(),
                }
                for x in found
            ]
        )
        return
    from rich.table import Table

    table = Table("id", "name", "contacts", "created")
    for item in found:
        table.add_row(str(item.id), item.name, str(item.contacts), f"{item.created_at:%Y-%m-%d}")
    console.print(table)
