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


@subject_app.command("erase")
def subject_erase(
    email: str = typer.Argument(..., help="The person's email address."),
    reason: Annotated[
        str, typer.Option("--reason", help="Why (e.g. the request's date and channel).")
    ] = "",
    actor: Annotated[str, typer.Option("--actor", help="Who erases (recorded).")] = "",
) -> None:
    """Erase EMAIL from every list: address, attributes, memberships, personal events,
    sends' and bounces' personal fields, ledger evidence. The ledger keeps an erasure entry
    (who, when, why) and still verifies; a keyed hash of the address stays on the
    suppression list so a later import does not bring the person back."""
    import getpass

    from clearpixel.subjects.erasure import erase_subject

    with context() as ctx:
        report = erase_subject(ctx, email, reason=reason, actor=actor or f"cli:{getpass.getuser()}")
    for line in report.lines():
        typer.echo(line)
