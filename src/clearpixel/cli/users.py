"""`clearpixel users create|ls|disable|enable|role|reset`: the people who sign in to the
admin UI, each with a role (admin, editor, auditor); and the first admin account, which `init`
and `demo` create."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from clearpixel.cli.base import console, context, print_json, users_app

if TYPE_CHECKING:
    from clearpixel.context import Context

# Services are imported inside the commands (argon2 and the store cost at start-up).

ADMIN_PASSWORD_ENV = "CLEARPIXEL_ADMIN_PASSWORD"


def ensure_admin_account(ctx: Context) -> str | None:
    """Create the admin account (password from CLEARPIXEL_ADMIN_PASSWORD, else generated) and
    print how to sign in; a generated password is printed this once only. Returns it."""
    from clearpixel.accounts import users

    from_env = os.environ.get(ADMIN_PASSWORD_ENV) or None
    password = users.ensure_admin(ctx, password=from_env)
    if password is None:
        console.print(f"admin account: {users.ADMIN_USERNAME!r} (exists; password unchanged)")
    elif from_env:
        console.print(
            f"admin account: {users.ADMIN_USERNAME!r}, password from {ADMIN_PASSWORD_ENV}"
        )
    else:
        console.print(
            f"admin account: {users.ADMIN_USERNAME!r}, password (shown once): [bold]{password}[/]"
        )
    return password


@users_app.command("create")
def users_create(
    email: str = typer.Argument(..., help="The address the user signs in with."),
    role: str = typer.Option(..., "--role", help="admin, editor or auditor."),
    password: str = typer.Option(
        ..., "--password", prompt=True, hide_input=True, help="At least 8 characters."
    ),
) -> None:
    """Create a user who signs in at /admin/login with EMAIL and the password."""
    from clearpixel.accounts import users

    with context() as ctx:
        user = users.create_user(ctx, email, role=role, password=password)
    console.print(f"user {user.id}: {user.username} ({user.role})")


@users_app.command("ls")
def users_ls(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show every user: id, email, role, created, disabled."""
    from rich.table import Table

    from clearpixel.accounts import users

    with context() as ctx:
        found = users.all_users(ctx)
    if as_json:
        print_json(
            [
                {
                    "id": u.id,
                    "email": u.username,
                    "role": u.role,
                    "created_at": u.created_at.isoformat(),
                    "disabled_at": u.disabled_at.isoformat() if u.disabled_at else None,
                }
                for u in found
            ]
        )
        return
    table = Table("id", "email", "role", "created", "disabled")
    for u in found:
        disabled = f"{u.disabled_at:%Y-%m-%d %H:%M}" if u.disabled_at else ""
        table.add_row(str(u.id), u.username, u.role, f"{u.created_at:%Y-%m-%d %H:%M}", disabled)
    console.print(table)


@users_app.command("disable")
def users_disable(user: str = typer.Argument(..., help="The user's email or id.")) -> None:
    """Disable a user: their sessions end and they cannot sign in (the last admin stays)."""
    from clearpixel.accounts import users

    with context() as ctx:
        found = users.disable_user(ctx, user)
    console.print(f"user {found.username} disabled; their sessions ended")


@users_app.command("enable")
def users_enable(user: str = typer.Argument(..., help="The user's email or id.")) -> None:
    """Let a disabled user sign in again."""
    from clearpixel.accounts import users

    with context() as ctx:
        found = users.enable_user(ctx, user)
    console.print(f"user {found.username} enabled")


@users_app.command("role")
def users_role(
    user: str = typer.Argument(..., help="The user's email or id."),
    role: str = typer.Argument(..., help="admin, editor or auditor."),
) -> None:
    """Give a user another role."""
    from clearpixel.accounts import users

    with context() as ctx:
        found = users.set_user_role(ctx, user, role)
    console.print(f"user {found.username} is now {found.role}")


@users_app.command("reset")
def users_reset(
    user: str = typer.Argument(..., help="The user's email or id."),
    password: str = typer.Option(
        "", "--password", help="The new password (generated and shown once when left out)."
    ),
) -> None:
    """Set a user's password and end their sessions."""
    from clearpixel.accounts import users

    with context() as ctx:
        chosen = users.reset_password(ctx, user, password=password or None)
    console.print(f"password of {user} reset; their sessions ended")
    if not password:
        typer.echo(chosen)
