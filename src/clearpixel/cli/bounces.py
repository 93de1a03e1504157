"""`clearpixel bounces serve|poll`: receive bounces and complaints for the bounce domain."""

from __future__ import annotations

import signal
import threading

import typer

from clearpixel.cli.base import console, context, err_console, group

bounces_app = group("bounces", "Receive bounces and complaints for the bounce domain.")


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
