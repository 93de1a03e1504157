"""`clearpixel forms snippet`."""

from __future__ import annotations

import typer

from clearpixel.cli.base import context, forms_app, shipped_locale

# The signup snippet (babel and jinja2) is imported inside the command.


@forms_app.command("snippet")
def forms_snippet(
    list_name: str = typer.Option(..., "--list", help="The audience list to subscribe to."),
    locale: str = typer.Option("en", "--locale", "-l", help="Language: en or fr."),
) -> None:
    """Print the signup form as HTML to paste into your own site; it posts to this
    installation (CLEARPIXEL_BASE_URL)."""
    from clearpixel.web.signup_pages import signup_snippet

    with context() as ctx:
        typer.echo(signup_snippet(ctx, list_name, shipped_locale(locale)))
