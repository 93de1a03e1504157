"""`clearpixel notices add|ls`, `clearpixel forms snippet`, `clearpixel consent proof|expire`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from clearpixel.cli.base import consent_app, console, context, forms_app, notices_app, print_json
from clearpixel.domain.errors import ClearpixelError

# Services (notices, pages, proof, the web layer's signup snippet, babel and jinja2) are
# imported inside the commands, so the rest of the CLI starts without them.


class ProofFormat(StrEnum):
    JSON = "json"
    HTML = "html"


def _locale(value: str) -> str:
    from clearpixel.consent.i18n import SUPPORTED

    if value not in SUPPORTED:
        raise ClearpixelError(
            f"language {value!r} is not shipped (use one of {', '.join(SUPPORTED)})"
        )
    return value


@notices_app.command("add")
def notices_add(
    purpose: str = typer.Argument(..., help="Purpose name, e.g. open_tracking."),
    locale: str = typer.Option(..., "--locale", "-l", help="Language: en or fr."),
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the text from a file.")
    ] = None,
    text: str | None = typer.Option(None, "--text", "-t", help="The text itself."),
) -> None:
    """Store a new version of a notice; refused, naming what is missing, if it lacks a
    required element (who places the pixel, what is collected, the purpose, every device)."""
    if (file is None) == (text is None):
        raise ClearpixelError("give the notice with exactly one of --file or --text")
    body = file.read_text(encoding="utf-8") if file is not None else str(text)
    from clearpixel.consent import notices as notice_service

    with context() as ctx:
        notice = notice_service.add_notice(ctx, purpose, _locale(locale), body)
    console.print(
        f"notice {notice.id}: {notice.purpose} ({notice.locale}) version {notice.version}, "
        f"sha256 {notice.sha256}"
    )


@notices_app.command("ls")
def notices_ls(
    as_json: bool = typer.Option(False, "--json", help="Print JSON, with the texts."),
) -> None:
    """Every notice version (the shipped defaults are stored on first use)."""
    from rich.table import Table

    from clearpixel.consent import notices as notice_service

    with context() as ctx:
        notice_service.ensure_defaults(ctx)
        found = notice_service.list_notices(ctx)
    if as_json:
        print_json(
            [
                {
                    "id": n.id,
                    "purpose": n.purpose,
                    "locale": n.locale,
                    "version": n.version,
                    "sha256": n.sha256,
                    "created_at": n.created_at.isoformat(),
                    "text": n.text,
                }
                for n in found
            ]
        )
        return
    table = Table("id", "purpose", "locale", "version", "sha256", "created")
    for n in found:
        table.add_row(
            str(n.id),
            n.purpose,
            n.locale,
            str(n.version),
            n.sha256[:16] + "…",
            f"{n.created_at:%Y-%m-%d}",
        )
    console.print(table)


@forms_app.command("snippet")
def forms_snippet(
    list_name: str = typer.Option(..., "--list", help="The audience list to subscribe to."),
    locale: str = typer.Option("en", "--locale", "-l", help="Language: en or fr."),
) -> None:
    """Print the signup form as HTML to paste into your own site; it posts to this
    installation (CLEARPIXEL_BASE_URL)."""
    from clearpixel.web.signup_pages import signup_snippet

    with context() as ctx:
        typer.echo(signup_snippet(ctx, list_name, _locale(locale)))


@consent_app.command("proof")
def consent_proof(
    email: str = typer.Argument(..., help="The contact's email address."),
    list_name: str = typer.Option(..., "--list", help="The contact's list."),
    fmt: Annotated[ProofFormat, typer.Option("--format", help="json or html.")] = ProofFormat.JSON,
    locale: str = typer.Option("en", "--locale", "-l", help="Language of the HTML: en or fr."),
) -> None:
    """Proof of consent: every decision with the exact notice shown, the evidence and the
    hash-chain links a third party can recompute."""
    from clearpixel.consent import proof

    with context() as ctx:
        data = proof.proof_for(ctx, email, list_name)
    if fmt is ProofFormat.HTML:
        typer.echo(proof.render_proof_html(data, locale=_locale(locale)))
    else:
        typer.echo(proof.proof_json(data))


@consent_app.command("expire")
def consent_expire() -> None:
    """Record 'no decision' (a refusal) for consent pages left unanswered past
    CLEARPIXEL_CONSENT_PAGE_TIMEOUT_MINUTES and consent links that expired unused, and purge
    signups whose confirmation link expired. `clearpixel serve` also runs this every few
    minutes; run it from cron otherwise."""
    from clearpixel.consent import pages, signups

    with context() as ctx:
        report = pages.expire_pending(ctx, ctx.now())
        purged = signups.purge_signups(ctx, ctx.now())
    console.print(
        f"pages left open: {report.pages_left_open}, links expired: {report.links_expired}, "
        f"refusals recorded: {report.refusals}, already consented: {report.superseded}, "
        f"expired signups purged: {purged}"
    )
