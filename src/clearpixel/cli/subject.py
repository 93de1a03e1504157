"""`clearpixel subject export`: what is held on one address, in every list."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from clearpixel.cli.base import context, subject_app


class ExportFormat(StrEnum):
    JSON = "json"
    HTML = "html"


@subject_app.command("export")
def subject_export(
    email: str = typer.Argument(..., help="The person's email address."),
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="json or html.")
    ] = ExportFormat.JSON,
) -> None:
    """Everything held on EMAIL in every list (memberships, attributes, consent per purpose,
    every ledger entry with its notice, sends, personal events), for a right-of-access request."""
    from clearpixel.subjects import access

    with context() as ctx:
        data = access.subject_export(ctx, email)
    typer.echo(access.export_html(data) if fmt is ExportFormat.HTML else access.export_json(data))
