"""`clearpixel init`: the data folder, the signing keys, the database and the admin account."""

from __future__ import annotations

from typing import Annotated

import typer

from clearpixel.cli.base import app, console, say

# Services (and through them the store, SQLAlchemy and Alembic) are imported inside the
# commands: Typer needs only the signatures, so `clearpixel --help` starts without them.


@app.command()
def init(
    db_owner: Annotated[
        str,
        typer.Option(
            "--db-owner",
            help="PostgreSQL: the role that owns the tables (not the application's role), so "
            "the application cannot drop the ledger's triggers. Needs --app-role.",
        ),
    ] = "",
    app_role: Annotated[
        str,
        typer.Option("--app-role", help="PostgreSQL: the role the application connects as."),
    ] = "",
) -> None:
    """Create the data folder, the signing keys and the database (safe to run again)."""
    from clearpixel.audience import lists as list_service
    from clearpixel.config import ensure_secret_keys, load_settings
    from clearpixel.consent.checkpoints import ensure_ledger_key, public_key_path
    from clearpixel.consent.integrity import protect_ledger
    from clearpixel.context import open_context

    if bool(db_owner) != bool(app_role):
        say("error: --db-owner and --app-role go together", err=True)
        raise typer.Exit(code=2)
    settings = load_settings()
    key_file = ensure_secret_keys(settings)
    ledger_key = ensure_ledger_key(settings)
    ctx = open_context(settings)
    try:
        list_service.sync_purposes(ctx)
        from clearpixel.cli.users import ensure_admin_account

        ensure_admin_account(ctx)
        if db_owner:
            tables = protect_ledger(ctx, owner=db_owner, app=app_role)
            console.print(
                f"database owner: {db_owner} owns {len(tables)} tables; {app_role} may append "
                "to the ledger, not change it or its triggers"
            )
    finally:
        ctx.db.dispose()
    console.print(f"data folder: {settings.data_dir.resolve()}")
    console.print(f"signing keys: {key_file if not settings.secret_keys else 'from environment'}")
    console.print(
        f"ledger checkpoint key: {ledger_key} (public key to keep elsewhere: "
        f"{public_key_path(settings)})"
    )
    console.print(f"database: {ctx.db.dialect} ready")
