"""`clearpixel apikeys create|ls|revoke`: keys for the REST API."""

from __future__ import annotations

import typer

from clearpixel.cli.base import apikeys_app, console, context, print_json

# Services are imported inside the commands: `clearpixel --help` and the other commands do
# not pay for argon2, the store and the web stack.


@apikeys_app.command("create")
def apikeys_create(
    name: str = typer.Option(..., "--name", help="What the key is for."),
    list_name: str | None = typer.Option(None, "--list", help="Limit the key to this list."),
    scope: str = typer.Option(
        "full",
        "--scope",
        help="full, or signup: the key may only start signups, which mail the address a "
        "confirmation link (what a website should hold).",
    ),
    role: str = typer.Option(
        "admin", "--role", help="admin, editor or auditor: what the key's requests may do."
    ),
) -> None:
    """Create an API key and print it once (only its SHA-256 is stored)."""
    from clearpixel.accounts import api_keys

    with context() as ctx:
        key, secret = api_keys.create_api_key(
            ctx, name, scope=scope, list_name=list_name, role=role
        )
    limits = f", role {key.role}, scope {key.scope}" + (
        f", list {list_name!r}" if list_name else ""
    )
    console.print(f"API key {key.id} ({key.name}{limits}); it is shown this once:", style="bold")
    typer.echo(secret)


@apikeys_app.command("ls")
def apikeys_ls(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show every key: id, name, prefix, scope, list, created, revoked."""
    from rich.table import Table

    from clearpixel.accounts import api_keys

    with context() as ctx:
        keys = api_keys.api_keys(ctx)
    if as_json:
        print_json(
            [
                {
                    "id": k.id,
                    "name": k.name,
                    "prefix": k.prefix,
                    "scope": k.scope,
                    "role": k.role,
                    "list_id": k.list_id,
                    "created_at": k.created_at.isoformat(),
                    "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                }
                for k in keys
            ]
        )
        return
    table = Table("id", "name", "prefix", "role", "scope", "list id", "created", "revoked")
    for k in keys:
        table.add_row(
            str(k.id),
            k.name,
            k.prefix + "…",
            k.role,
            k.scope,
            "" if k.list_id is None else str(k.list_id),
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
        )
    console.print(table)


@apikeys_app.command("revoke")
def apikeys_revoke(
    key_id: int = typer.Argument(..., help="The key's id (see `apikeys ls`)."),
) -> None:
    """Revoke a key: requests that present it are refused from now on."""
    from clearpixel.accounts import api_keys

    with context() as ctx:
        api_keys.revoke_api_key(ctx, key_id)
    console.print(f"API key {key_id} revoked")
