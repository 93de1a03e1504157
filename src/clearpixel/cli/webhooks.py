"""`clearpixel webhooks add|ls|rm|log|deliver`: signed webhooks sent to your systems."""

from __future__ import annotations

import signal
import threading

import typer

from clearpixel.cli.base import console, context, group, print_json

webhooks_app = group("webhooks", "Signed webhooks sent to your systems.")


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
