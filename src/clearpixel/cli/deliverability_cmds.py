"""`clearpixel suppression ls|add|rm|export`, `clearpixel bounces serve` and
`clearpixel webhooks add|ls|rm|log|deliver`."""

from __future__ import annotations

import getpass
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from clearpixel.cli.base import console, context, err_console, group, print_json
from clearpixel.domain.bounces import SuppressionReason

suppression_app = group("suppression", "The installation-wide suppression list.")
bounces_app = group("bounces", "Receive bounces and complaints for the bounce domain.")
webhooks_app = group("webhooks", "Signed webhooks sent to your systems.")

REASONS = ", ".join(r.value for r in SuppressionReason)


def _actor(given: str | None) -> str:
    return given or f"cli:{getpass.getuser()}"


@suppression_app.command("ls")
def suppression_ls(
    reason: str | None = typer.Option(None, "--reason", help=f"Only this reason: {REASONS}."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Suppressed addresses, in address order."""
    from rich.table import Table

    from clearpixel.deliverability import suppression

    with context() as ctx:
        found = suppression.listing(ctx, reason=reason, limit=limit)
    if as_json:
        print_json(
            [
                {
                    "address": s.address,
                    "reason": s.reason,
                    "since": s.since.isoformat(),
                    "actor": s.actor,
                    "evidence": s.evidence,
                }
                for s in found
            ]
        )
        return
    table = Table("address", "reason", "since", "actor")
    for s in found:
        table.add_row(s.address, s.reason, f"{s.since:%Y-%m-%d %H:%M}", s.actor)
    console.print(table)


@suppression_app.command("add")
def suppression_add(
    email: str = typer.Argument(..., help="The address to suppress."),
    reason: str = typer.Option("manual", "--reason", help=REASONS),
    note: str = typer.Option("", "--note", help="Evidence kept with the entry."),
    actor: str | None = typer.Option(None, "--actor", help="Who (default: cli:<user>)."),
) -> None:
    """Put an address on the suppression list: no mail of any kind goes to it."""
    from clearpixel.deliverability import suppression

    with context() as ctx:
        added = suppression.add(ctx, email, reason=reason, actor=_actor(actor), note=note)
    console.print(f"{email}: " + ("suppressed" if added else "already suppressed (unchanged)"))


@suppression_app.command("rm")
def suppression_rm(
    email: str = typer.Argument(..., help="The address to take off the list."),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the log)."),
    actor: str | None = typer.Option(None, "--actor", help="Who (default: cli:<user>)."),
) -> None:
    """Take an address off the suppression list (logged with actor and reason)."""
    from clearpixel.deliverability import suppression

    with context() as ctx:
        suppression.remove(ctx, email, actor=_actor(actor), reason=reason)
    console.print(f"{email}: no longer suppressed")


@suppression_app.command("export")
def suppression_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV file (default: stdout).")
    ] = None,
) -> None:
    """The whole list as CSV: address, reason, since, actor, evidence."""
    from clearpixel.deliverability import suppression

    with context() as ctx:
        if output is None:
            for chunk in suppression.export_csv(ctx):
                sys.stdout.write(chunk)
            sys.stdout.flush()
            return
        with open(output, "w", encoding="utf-8", newline="") as handle:
            for chunk in suppression.export_csv(ctx):
                handle.write(chunk)
    err_console.print(f"written to {output}")


@bounces_app.command("serve")
def bounces_serve(
    host: str = typer.Option("0.0.0.0", help="Address to listen on."),  # noqa: S104
    port: int = typer.Option(2525, help="Port (25 behind the bounce domain's MX)."),
) -> None:
    """Receive DSNs and ARF complaint reports for CLEARPIXEL_BOUNCE_DOMAIN over SMTP."""
    from clearpixel.deliverability.inbound import receiver

    stop = threading.Event()
    with context() as ctx:
        server = receiver(ctx, host=host, port=port)
        server.start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        err_console.print(
            f"receiving bounces for {ctx.settings.bounce_domain} on {host}:{port}", soft_wrap=True
        )
        try:
            stop.wait()
        finally:
            server.stop()


@bounces_app.command("poll")
def bounces_poll(
    url: str = typer.Argument(
        ..., help="imaps://user:password@host[:port]/INBOX or pop3s://user:password@host[:port]"
    ),
    loop: bool = typer.Option(False, "--loop", help="Keep polling until interrupted."),
    interval: float = typer.Option(60.0, "--interval", min=1.0, help="Seconds between polls."),
) -> None:
    """Read DSNs and complaint reports from a mailbox, record them, delete them."""
    from clearpixel.deliverability.mailbox import MailboxConfig, poll

    config = MailboxConfig.parse(url)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with context() as ctx:
        while True:
            result = poll(ctx, config)
            console.print(f"read {result.read}, recorded {result.recorded}, kept {result.kept}")
            if not loop or stop.wait(interval):
                return


@webhooks_app.command("add")
def webhooks_add(
    url: str = typer.Argument(..., help="https:// URL that receives the events."),
    events: str = typer.Option(
        ...,
        "--events",
        help="Comma-separated: consent.decision_recorded, contact.unsubscribed, "
        "email.bounced, email.complained, address.suppressed.",
    ),
) -> None:
    """Register an endpoint; prints its id and the secret that signs its requests."""
    from clearpixel.deliverability import webhooks

    with context() as ctx:
        endpoint = webhooks.add_endpoint(ctx, url, [e for e in events.split(",") if e.strip()])
    console.print(f"endpoint {endpoint.id}: {endpoint.url} ({', '.join(endpoint.events)})")
    console.print(f"signing secret (keep it on the receiving side): {endpoint.secret}")


@webhooks_app.command("ls")
def webhooks_ls(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Registered endpoints."""
    from rich.table import Table

    from clearpixel.deliverability import webhooks

    with context() as ctx:
        found = webhooks.endpoints(ctx)
    if as_json:
        print_json([{"id": e.id, "url": e.url, "events": e.events} for e in found])
        return
    table = Table("id", "url", "events", "since")
    for e in found:
        table.add_row(str(e.id), e.url, ", ".join(e.events), f"{e.created_at:%Y-%m-%d}")
    console.print(table)


@webhooks_app.command("rm")
def webhooks_rm(endpoint_id: int = typer.Argument(..., help="Endpoint id.")) -> None:
    """Stop sending to an endpoint (its delivery log stays)."""
    from clearpixel.deliverability import webhooks

    with context() as ctx:
        webhooks.remove_endpoint(ctx, endpoint_id)
    console.print(f"endpoint {endpoint_id} removed")


@webhooks_app.command("log")
def webhooks_log(
    endpoint_id: int = typer.Argument(..., help="Endpoint id."),
    limit: int = typer.Option(50, "--limit", min=1),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """An endpoint's delivery log, newest attempt first."""
    from rich.table import Table

    from clearpixel.deliverability import webhooks

    with context() as ctx:
        attempts = webhooks.delivery_log(ctx, endpoint_id, limit=limit)
    if as_json:
        print_json(
            [
                {
                    "delivery": a.delivery_id,
                    "event": a.event_type,
                    "at": a.at.isoformat(),
                    "status_code": a.status_code,
                    "error": a.error,
                    "delivery_status": a.delivery_status,
                }
                for a in attempts
            ]
        )
        return
    table = Table("delivery", "event", "at", "answer", "delivery status")
    for a in attempts:
        answer = str(a.status_code) if a.status_code else (a.error or "")
        table.add_row(
            str(a.delivery_id), a.event_type, f"{a.at:%Y-%m-%d %H:%M:%S}", answer, a.delivery_status
        )
    console.print(table)


@webhooks_app.command("deliver")
def webhooks_deliver(
    loop: bool = typer.Option(False, "--loop", help="Keep delivering until interrupted."),
    interval: float = typer.Option(5.0, "--interval", min=0.1, help="Seconds between passes."),
) -> None:
    """Send due webhook deliveries (`serve` does this too, every few seconds)."""
    from clearpixel.deliverability import webhooks

    with context() as ctx:
        if not loop:
            run = webhooks.run_once(ctx)
            console.print(
                f"delivered {run.delivered}, to retry {run.retried}, given up {run.given_up}"
            )
            return
        worker = webhooks.Worker(ctx, interval=interval).start()
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        worker.stop()
