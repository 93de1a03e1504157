"""`clearpixel consent show|proof|expire`."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from clearpixel.cli.base import consent_app, console, context, print_json, say, shipped_locale

# Services (history, proof, pages, babel and jinja2) are imported inside the commands, so the
# rest of the CLI starts without them.


class ProofFormat(StrEnum):
    JSON = "json"
    HTML = "html"


@consent_app.command("show")
def consent_show(
    email: Annotated[str, typer.Argument(help="The contact's email address.")],
    list_name: Annotated[str, typer.Option("--list", help="The contact's list.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A contact's consent per purpose (granted / refused / never asked) and its ledger
    history."""
    from rich.table import Table

    from clearpixel.audience.emails import normalise_email
    from clearpixel.consent.history import consent_view

    with context() as ctx:
        view = consent_view(ctx.db, ctx.purposes, list_name=list_name, email=normalise_email(email))
    if as_json:
        print_json(view.as_dict())
        return
    flags = view.contact.privacy_flags
    say(
        f"{view.contact.email} in {view.list_name!r}: privacy_flags "
        f"{'NULL (never asked)' if flags is None else flags}, {view.contact.status}"
    )
    purposes = Table("purpose", "bit", "state")
    for purpose in view.purposes:
        purposes.add_row(purpose.name, str(purpose.bit), purpose.state.replace("_", " "))
    console.print(purposes)
    if not view.history:
        say("history: no ledger entries")
    for item in view.history:
        parts = [f"#{item.seq}", f"{item.at:%Y-%m-%d %H:%M:%S}", item.method]
        if item.granted:
            parts.append("granted: " + ", ".join(item.granted))
        if item.revoked:
            parts.append("revoked: " + ", ".join(item.revoked))
        parts.append(f"flags {item.flags_before} -> {item.flags_after}")
        if item.notice_id is not None:
            parts.append(f"notice {item.notice_id} (sha256 {item.notice_sha256})")
        if item.actor:
            parts.append(f"by {item.actor}")
        parts.append("evidence " + json.dumps(dict(item.evidence), ensure_ascii=False))
        say("  ".join(parts))


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
        typer.echo(proof.render_proof_html(data, locale=shipped_locale(locale)))
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
        now = ctx.now()
        report = pages.expire_pending(ctx, now)
        purged = signups.purge_signups(ctx, now)
    console.print(
        f"pages left open: {report.pages_left_open}, links expired: {report.links_expired}, "
        f"refusals recorded: {report.refusals}, already consented: {report.superseded}, "
        f"expired signups purged: {purged}"
    )
