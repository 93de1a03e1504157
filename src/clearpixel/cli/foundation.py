"""`clearpixel init` and `clearpixel lists ...`."""

from __future__ import annotations

import typer
from rich.table import Table

from clearpixel.audience import lists as list_service
from clearpixel.cli.base import app, console, context, lists_app, print_json
from clearpixel.config import ensure_secret_keys, load_settings
from clearpixel.context import open_context


@app.command()
def init() -> None:
    """Create the data folder, the signing key and the database (safe to run again)."""
    settings = load_settings()
    key_file = ensure_secret_keys(settings)
    ctx = open_context(settings)
    try:
        list_service.sync_purposes(ctx)
        from clearpixel.cli.admin_cmds import ensure_admin_account

        ensure_admin_account(ctx)
    finally:
        ctx.db.dispose()
    console.print(f"data folder: {settings.data_dir.resolve()}")
    console.print(f"signing keys: {key_file if not settings.secret_keys else 'from environment'}")
    console.print(f"database: {ctx.db.dialect} ready")


@lists_app.command("create")
def lists_create(name: str) -> None:
    """Create an audience list."""
    with context() as ctx:
        created = list_service.create_list(ctx, name)
    console.print(f"created list {created.name!r} (id {created.id})")


@lists_app.command("ls")
def lists_ls(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show every list with its number of contacts."""
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
    table = Table("id", "name", "contacts", "created")
    for item in found:
        table.add_row(str(item.id), item.name, str(item.contacts), f"{item.created_at:%Y-%m-%d}")
    console.print(table)
