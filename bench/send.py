"""Send throughput to a real SMTP server: `clearpixel campaign send` end to end against the
transport floor, in the same run.

    uv run python bench/send.py --recipients 20000 --concurrency 8

1. an SMTP server that accepts and discards everything (aiosmtpd) starts in a process of its
   own, so it never shares an interpreter with the sender; it counts what it received;
2. a fresh SQLite installation in a temporary folder gets N contacts (half with open-tracking
   consent: personal pixel; half without: anonymous pixel) and one marketing campaign (a
   ~12 KB newsletter with 12 links), with a bounce domain set (VERP return path, as in
   production);
3. end to end: `clearpixel campaign send ID --smtp ... --concurrency C` as a separate process
   (records the recipients, checks suppression and eligibility, renders, signs, sends, marks
   each row sent); wall time and that process's peak RSS (wait4);
4. the floor: 500 messages rendered beforehand by the same renderer, pushed round-robin N times
   through aiosmtplib with the same concurrency (C connections reused, one message per
   transaction), in this process; nothing else is done per message.
The server's count must equal N after each phase. Memory: the end-to-end run is repeated with
N/4 recipients; flat memory means the same peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiosmtplib

from clearpixel.config import Settings

KEY = "bench-signing-key-0123456789abcdef0123456789abcdef"
SERVER = r"""
import sys, threading, time
from aiosmtpd.controller import Controller
count = 0
lock = threading.Lock()
class Sink:
    async def handle_DATA(self, server, session, envelope):
        global count
        with lock:
            count += 1
        return "250 OK"
controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
for line in sys.stdin:
    with lock:
        print(count, flush=True)
controller.stop()
"""


def newsletter(links: int = 12) -> str:
    articles = "".join(
        f"""<tr><td style="padding:16px;font-family:Arial,sans-serif">
<h2 style="margin:0 0 8px">Article {i}: what changed this month</h2>
<p>Dear {{{{ first_name }}}}, this is paragraph {i} of our monthly letter. It talks about
products, events and the news of the season, with enough words to look like a real article
that someone would write for a real audience of customers and friends.</p>
<p><a href="https://shop.example.org/article/{i}?utm_source=news">Read more</a></p>
</td></tr>"""
        for i in range(links)
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<style>body{{margin:0;background:#f4f4f4}} .c{{width:600px;margin:0 auto;background:#fff}}</style>
</head><body><table class="c" role="presentation">
<tr><td><img src="https://cdn.example.org/logo.png" width="200" alt="Example"></td></tr>
{articles}
<tr><td>Example Organisation · 1 rue de la Paix · Paris — {{{{ city }}}}</td></tr>
</table></body></html>"""


class Server:
    def __init__(self, port: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout and self.process.stdout.readline().strip() == "ready"

    def count(self) -> int:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write("?\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def stop(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait(timeout=30)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(folder: Path) -> dict[str, str]:
    """The CLI's environment; bytecode is cached (as in an installed package) so the
    end-to-end time is not spent compiling the interpreter's imports."""
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {
        **inherited,
        "CLEARPIXEL_DATA_DIR": str(folder),
        "CLEARPIXEL_SECRET_KEYS": KEY,
        "CLEARPIXEL_BOUNCE_DOMAIN": "bounces.example.org",
        "CLEARPIXEL_DATABASE_URL": "",
    }


def settings_for(folder: Path) -> Settings:
    """The bench installation's settings (as `environment` gives the CLI)."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=folder,
        secret_keys=[KEY],
        bounce_domain="bounces.example.org",
    )


def prepare(folder: Path, recipients: int) -> int:
    """A fresh installation with `recipients` contacts and one campaign; its id."""
    from clearpixel.consent import record_decisions
    from clearpixel.context import open_context
    from clearpixel.domain.ledger import Decision, Method
    from clearpixel.sending import campaigns
    from clearpixel.store.contacts import insert_contacts
    from clearpixel.store.lists import create_list
    from clearpixel.store.purposes import sync_purposes

    ctx = open_context(settings_for(folder))
    now = ctx.now()
    with ctx.db.begin() as tx:
        sync_purposes(tx, ctx.purposes)
        list_id = create_list(tx, "bench", now=now).id
        rows = [
            {
                "list_id": list_id,
                "email": f"user{i}@example{i % 97}.org",
                "attributes": {"first_name": f"Name{i}", "city": "Lyon"},
            }
            for i in range(recipients)
        ]
        ids = insert_contacts(tx, rows, now=now)
        decisions = [
            Decision(
                contact_id=cid,
                list_id=list_id,
                email=row["email"],
                granted=1,
                revoked=0,
                method=Method.IMPORT,
                at=now,
                evidence={"basis": "bench"},
            )
            for cid, row in zip(ids, rows, strict=True)
            if cid % 2
        ]
        record_decisions(tx, decisions, cooldown=ctx.cooldown)
    campaign = campaigns.create_campaign(
        ctx,
        list_name="bench",
        kind="marketing",
        subject="News for {{ first_name }}",
        html=newsletter(),
        from_addr="News <news@example.org>",
    )
    ctx.db.dispose()
    return campaign.id


def end_to_end(folder: Path, campaign_id: int, port: int, concurrency: int) -> tuple[float, int]:
    """(seconds, peak RSS MiB) of `clearpixel campaign send` in its own process."""
    command = [
        sys.executable, "-c", "from clearpixel.cli import main; main()",
        "campaign", "send", str(campaign_id),
        "--smtp", f"smtp://127.0.0.1:{port}?timeout=30",
        "--concurrency", str(concurrency),
    ]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=environment(folder), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"campaign send failed with status {status}")
    return elapsed, usage.ru_maxrss // 1024


def prerendered(folder: Path, campaign_id: int, count: int) -> list[tuple[str, str, bytes]]:
    """(sender, recipient, message) for `count` contacts, rendered by the product's renderer."""
    from clearpixel.context import open_context
    from clearpixel.deliverability.envelope import Envelope
    from clearpixel.domain.policy import MessageKind
    from clearpixel.sending import campaigns
    from clearpixel.sending.eligibility import mode_for
    from clearpixel.store.contacts import iter_contacts

    ctx = open_context(settings_for(folder))
    campaign = campaigns.get_campaign(ctx, campaign_id)
    renderer = campaigns.renderer_for(ctx, campaign)
    envelope = Envelope.of(
        ctx,
        campaign_id=campaign.id,
        public_id=campaign.public_id,
        kind=campaign.kind,
        from_address=renderer.layout.envelope_from,
    )
    out = []
    with ctx.db.connect() as conn:
        for contact in iter_contacts(conn, campaign.list_id):
            mode, purposes = mode_for(ctx, MessageKind(campaign.kind), contact.privacy_flags)
            data = renderer.render(contact, mode, purposes=purposes, now=ctx.now()).data
            out.append((envelope.sender(contact.id), contact.email, envelope.headers + data))
            if len(out) == count:
                break
    ctx.db.dispose()
    return out


async def floor(messages: list[tuple[str, str, bytes]], total: int, port: int, c: int) -> float:
    """Seconds to push `total` messages through aiosmtplib with `c` reused connections."""
    queue: asyncio.Queue[tuple[str, str, bytes] | None] = asyncio.Queue(maxsize=c * 2)

    async def worker() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
        await client.connect()
        while (item := await queue.get()) is not None:
            sender, recipient, data = item
            await client.sendmail(sender, [recipient], data)
        await client.quit()

    started = time.perf_counter()
    workers = [asyncio.create_task(worker()) for _ in range(c)]
    for i in range(total):
        await queue.put(messages[i % len(messages)])
    for _ in workers:
        await queue.put(None)
    await asyncio.gather(*workers)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    n, c = args.recipients, args.concurrency
    port = free_port()
    server = Server(port)
    try:
        with tempfile.TemporaryDirectory(prefix="clearpixel-bench-send-") as tmp:
            big, small = Path(tmp) / "big", Path(tmp) / "small"
            big_id = prepare(big, n)
            small_id = prepare(small, n // 4)
            messages = prerendered(big, big_id, 500)
            size = sum(len(m[2]) for m in messages) / len(messages)

            subprocess.run(
                [sys.executable, "-c", "import clearpixel.cli, clearpixel.sending.campaigns"],
                env=environment(big),
                check=True,
            )
            before = server.count()
            floor_s = asyncio.run(floor(messages, n, port, c))
            assert server.count() - before == n, "the floor lost messages"

            before = server.count()
            e2e_s, e2e_rss = end_to_end(big, big_id, port, c)
            assert server.count() - before == n, "the end-to-end run lost messages"

            before = server.count()
            small_s, small_rss = end_to_end(small, small_id, port, c)
            assert server.count() - before == n // 4
    finally:
        server.stop()
    rows = [
        ("transport floor (aiosmtplib, pre-rendered)", n, floor_s, "(bench process)"),
        ("`campaign send` end to end", n, e2e_s, f"{e2e_rss} MiB"),
        ("`campaign send` end to end", n // 4, small_s, f"{small_rss} MiB"),
    ]
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"machine: {machine}, Python {platform.python_version()}")
    print(f"message size: {size / 1024:.1f} KiB average, concurrency {c}")
    print("| run | messages | seconds | messages/s | peak RSS |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, count, seconds, rss in rows:
        print(f"| {label} | {count:,} | {seconds:.1f} | {count / seconds:,.0f} | {rss} |")
    print(f"ratio end to end / floor: {floor_s / e2e_s:.2f}x (goal >= 0.8x)")


if __name__ == "__main__":
    main()
