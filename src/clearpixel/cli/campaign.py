"""`clearpixel campaign create|ls|preview|send|cancel|delete` (scheduling and the archive:
`campaign_later.py`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clearpixel.cli.base import campaign_app, console, context, err_console, print_json
from clearpixel.domain.errors import ClearpixelError

if TYPE_CHECKING:
    from clearpixel.sending.delivery import SendReport

# The sending service (templates, MIME, DKIM, SMTP) is imported inside the commands that use
# it, so the rest of the CLI starts without it.


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ClearpixelError(f"{what} {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ClearpixelError(f"{what} {path} is not UTF-8 text") from None


@campaign_app.command("create")
def create(
    list_name: Annotated[str, typer.Option("--list", help="Audience list to send to.")],
    kind: Annotated[
        str, typer.Option("--kind", help="marketing, transactional, security or consent_request.")
    ],
    subject: Annotated[
        str, typer.Option("--subject", help="Subject (may use template variables).")
    ],
    html: Annotated[Path, typer.Option("--html", help="HTML template file (Jinja2).")],
    text: Annotated[
        Path | None, typer.Option("--text", help="Text template; derived if absent.")
    ] = None,
    from_addr: Annotated[str | None, typer.Option("--from", help="From address.")] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Name shown in lists and reports.")
    ] = None,
) -> None:
    """Create a campaign (its template is checked now) and print its id."""
    from clearpixel.sending import campaigns

    with context() as ctx:
        campaign = campaigns.create_campaign(
            ctx,
            list_name=list_name,
            kind=kind,
            subject=subject,
            html=_read(html, "HTML file"),
            text=_read(text, "text file") if text else None,
            from_addr=from_addr,
            name=name,
        )
    typer.echo(campaign.id)
    for link in campaign.untracked_links:
        err_console.print(
            f"note: the link {link} depends on the recipient, so it is not tracked "
            "(a click may only lead to an address registered for the campaign)"
        )


@campaign_app.command("ls")
def ls(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    archived: bool = typer.Option(False, "--archived", help="Only the archived campaigns."),
) -> None:
    """Every campaign not archived (`--archived`: the archived ones), newest first, with its
    recipients by outcome and, when scheduled, its time."""
    from rich.table import Table

    from clearpixel.sending import campaigns
    from clearpixel.sending.schedule import shown

    with context() as ctx:
        found = campaigns.all_campaigns(ctx, archived=archived)
        counts = campaigns.send_counts(ctx)
        zone = ctx.settings.zone
    if as_json:
        print_json(
            [
                {
                    "id": c.id,
                    "public_id": c.public_id,
                    "name": c.name,
                    "kind": c.kind,
                    "list": c.list_name,
                    "subject": c.subject,
                    "from": c.from_addr,
                    "status": c.status,
                    "status_detail": c.status_detail,
                    "recipients": counts.get(c.id, {}),
                    "created_at": c.created_at.isoformat(),
                    "scheduled_at": c.scheduled_at.isoformat() if c.scheduled_at else None,
                    "archived_at": c.archived_at.isoformat() if c.archived_at else None,
                }
                for c in found
            ]
        )
        return
    table = Table("id", "name", "kind", "list", "status", "sent", "failed", "skipped", "pending")
    table.add_column("created")
    for c in found:
        n = counts.get(c.id, {})
        status = c.status + (f" ({c.status_detail})" if c.status_detail else "")
        if c.status == "scheduled" and c.scheduled_at:
            status = f"scheduled for {shown(c.scheduled_at, zone)}"
        table.add_row(
            str(c.id), c.name, c.kind, c.list_name, status,
            *(str(n.get(k, 0)) for k in ("sent", "failed", "skipped", "pending")),
            f"{c.created_at:%Y-%m-%d}",
        )  # fmt: skip
    console.print(table)


@campaign_app.command("preview")
def preview(
    campaign: str = typer.Argument(..., help="Campaign id (or public id)."),
    email: str = typer.Option(..., "--email", help="The contact to render it for."),
) -> None:
    """Print the exact MIME message that contact would get."""
    from clearpixel.sending import campaigns

    with context() as ctx:
        data = campaigns.preview(ctx, campaign, email)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


@campaign_app.command("send")
def send(
    campaign: str = typer.Argument(..., help="Campaign id (or public id)."),
    at: str | None = typer.Option(
        None,
        "--at",
        help="Do not send now: schedule it for this time, e.g. 2026-12-01T09:00+01:00 "
        "(without an offset, in CLEARPIXEL_TIMEZONE); `clearpixel serve` starts it.",
    ),
    outbox: Annotated[
        Path | None,
        typer.Option(
            "--outbox", help="Folder for .eml files (default: DATA_DIR/outbox/<public id>)."
        ),
    ] = None,
    smtp: str | None = typer.Option(
        None,
        "--smtp",
        help="Deliver by SMTP: smtp://user:pass@host:587 (STARTTLS when offered), "
        "smtp+starttls://... (STARTTLS required) or smtps://...:465 (TLS). Credentials go in "
        "the URL, percent-encoded (p@ss -> p%40ss); options: ?timeout=30&retries=4&backoff=1.",
    ),
    rate: float | None = typer.Option(None, "--rate", help="At most N messages per second."),
    concurrency: int = typer.Option(4, "--concurrency", help="Messages in flight at once."),
    suppress_inactive: int | None = typer.Option(
        None,
        "--suppress-inactive",
        help="Skip contacts whose last open and last click are both older than DAYS "
        "(contacts with neither date are kept).",
    ),
) -> None:
    """Send (or resume) a campaign: only recipients not yet sent are sent. With --at, schedule
    it instead (as `campaign schedule`)."""
    if at is not None:
        from clearpixel.cli.campaign_later import schedule_at

        if outbox or smtp or rate is not None or suppress_inactive is not None or concurrency != 4:
            raise ClearpixelError(
                "--at schedules the send for `clearpixel serve`, which delivers through "
                "CLEARPIXEL_SMTP_URL (or the outbox folder) at its own pace: "
                "--outbox, --smtp, --rate, --concurrency and --suppress-inactive do not apply"
            )

        schedule_at(campaign, at)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from clearpixel.sending import campaigns
    from clearpixel.sending.transports import transport_from

    with context() as ctx:
        found = campaigns.get_campaign(ctx, campaign)
        transport = transport_from(
            outbox=outbox,
            smtp=smtp,
            default_outbox=ctx.settings.data_dir / "outbox" / found.public_id,
        )
        with Progress(
            TextColumn("[bold]sending"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=err_console,
            transient=False,
        ) as bar:
            task = bar.add_task("send", total=None, rate="")

            def on_progress(done: int, total: int) -> None:
                speed = bar.tasks[0].speed
                bar.update(
                    task,
                    completed=done,
                    total=total,
                    rate=f"{speed:.1f} msg/s" if speed else "",
                )

            report = campaigns.send_campaign(
                ctx,
                found.id,
                transport,
                rate=rate,
                concurrency=concurrency,
                suppress_inactive_days=suppress_inactive,
                progress=on_progress,
            )
        by_mode = campaigns.sent_by_mode(ctx, found.id)
    print_send_report(report, by_mode, transport.name)


def print_send_report(report: SendReport, by_mode: dict[str, int], via: str) -> None:
    """What a send did: this run's outcomes, skipped recipients by reason, the totals and
    the campaign's final status, and the first failures with their reasons."""
    found = report.campaign
    if report.links_published is not None:
        console.print(f"{report.links_published} links published for tracking nodes")
    console.print(
        f"campaign {found.id} ({found.kind}) via {via}: "
        f"{report.sent} sent now, {report.failed} failed, {report.deferred} deferred, "
        f"{report.skipped} skipped at send"
    )
    if report.skipped_by_reason:
        console.print(
            "not sent to: "
            + ", ".join(f"{n} {reason}" for reason, n in report.skipped_by_reason.items())
        )
    console.print(
        "totals: "
        + (", ".join(f"{k} {v}" for k, v in sorted(report.by_status.items())) or "no recipient")
        + " | sent by mode: "
        + (", ".join(f"{k} {v}" for k, v in sorted(by_mode.items())) or "none")
    )
    detail = f" ({report.status_detail})" if report.status_detail else ""
    console.print(f"status: {report.status}{detail}")
    for email, reason in report.failures:
        console.print(f"failed: {email}: {reason}")


@campaign_app.command("cancel")
def cancel(campaign: str = typer.Argument(..., help="Campaign id (or public id).")) -> None:
    """Stop a campaign being sent (by this or another process): the sender stops after the
    messages in flight; `campaign send ID` resumes it later."""
    from clearpixel.sending import campaigns

    with context() as ctx:
        found = campaigns.cancel_campaign(ctx, campaign)
    console.print(f"campaign {found.id}: {found.status}")


@campaign_app.command("delete")
def delete(campaign: str = typer.Argument(..., help="Campaign id (or public id).")) -> None:
    """Delete a draft (a campaign never sent)."""
    from clearpixel.sending import campaigns

    with context() as ctx:
        found = campaigns.delete_campaign(ctx, campaign)
    console.print(f"campaign {found.id} deleted")
