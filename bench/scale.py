"""Scale-out on NATS JetStream: what publishing costs a tracking node per hit (beside the
local file queue of `serve --ingest-process`), how many hits/s ingest workers apply to
PostgreSQL with one and with two workers, and the time from a published batch to its
counters (p50/p99).

Everything runs on 127.0.0.1: NATS at CLEARPIXEL_NATS_URL (default nats://127.0.0.1:4222,
streams of the run's own, deleted after), PostgreSQL in a schema of the run's own. Workers are
`clearpixel ingest --from nats://...` processes, as deployed.

    uv run python bench/scale.py [--batches 100] [--contacts 2000]

With `--tracking`, the serving side instead, as bench/tracking.py measures it, every serving
option in one run, each pinned to CPU 0 with wrk on CPU 1: nginx `empty_gif` (access log
on); the plain GIF app (bench/plain_gif_app.py) under uvicorn (httptools, uvloop), under
granian as ASGI and as RSGI; the tracking node as an ASGI app (bench/node_app.py) under
uvicorn and under granian; and `clearpixel serve --role tracking` on its own server. Each
tracking node publishes to JetStream and gets SIGTERM after wrk; then a worker drains the
stream and the hits counted are compared with wrk's count. Each row gives the server's CPU
time per request (all its processes, from /proc) beside requests/s: the machine may be
shared, and CPU time per request is the figure that holds when it is busy ("× nginx by
CPU": nginx's CPU time per request over the row's, what the ratio would be with the core to
itself). About 3 minutes.

    uv run python bench/scale.py --tracking [--duration 10] [--connections 32] \
        [--contacts 20000] [--only "own"]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import nats
import sqlalchemy as sa
from nats.js.errors import NotFoundError
from tracking import (
    HERE,
    KEY,
    WrkResult,
    cpu_seconds,
    free_port,
    lua_script,
    pg_schema,
    prepare,
    run_nginx,
    uvicorn_plain,
    wait_port,
    wrk,
)

from clearpixel.context import Context
from clearpixel.domain.events import Hit, HitSource, Verdict
from clearpixel.domain.tokens import TokenKind
from clearpixel.ingest.jetstream import NatsLink, Publisher
from clearpixel.ingest.nats_worker import listed_dead_letters
from clearpixel.ingest.pipeline import Batch
from clearpixel.ingest.sinks import DeliveringSink, FileQueueSink
from clearpixel.reports.campaign import campaign_report
from clearpixel.store.campaign_results import drops_of

NATS_URL = os.environ.get("CLEARPIXEL_NATS_URL", "nats://127.0.0.1:4222")
DRAIN_LIMIT = 600  # seconds one worker may take to drain a node row's hits


def named(ctx: Context) -> Context:
    suffix = uuid.uuid4().hex[:10]
    update = {
        "nats_url": NATS_URL,
        "nats_stream": f"BENCH_{suffix}",
        "nats_subject": f"bench.{suffix}",
        "nats_consumer": f"bench-{suffix}",
        "nats_links_bucket": f"bench-links-{suffix}",
    }
    return Context(settings=ctx.settings.model_copy(update=update), db=ctx.db, now=ctx.now)


def drop_stream(ctx: Context) -> None:
    async def work() -> None:
        nc = await nats.connect(NATS_URL)
        try:
            await nc.jetstream().delete_stream(ctx.settings.nats_stream)
        finally:
            await nc.close()

    asyncio.run(work())


def batches(ctx: Context, campaign_id: int, ids: list[int], n: int, size: int) -> list[Batch]:
    """`n` batches of `size` hits: one personal open in ten, the rest anonymous opens."""
    at = ctx.now().timestamp()
    run = uuid.uuid4().hex[:8]
    out = []
    for b in range(n):
        hits = []
        for i in range(size):
            k = b * size + i
            if k % 10 == 0:
                hit = Hit(
                    source=HitSource.PERSONAL,
                    at=at,
                    campaign_id=campaign_id,
                    contact_id=ids[k % len(ids)],
                    purposes=1,
                    verdict=Verdict.HUMAN,
                    rule="ua:outlook_desktop@bench",
                )
            else:
                hit = Hit(
                    source=HitSource.ANONYMOUS, at=at, public_id="benchpub", verdict=Verdict.HUMAN
                )
            hits.append(hit)
        out.append(Batch(f"bench-{run}-{b}", hits))
    return out


def publish_cost(ctx: Context, work: list[Batch]) -> tuple[float, float]:
    """Microseconds per hit to hand batches on: (local file queue, JetStream with ack)."""
    hits = sum(len(b.hits) for b in work)
    with tempfile.TemporaryDirectory() as folder:
        queue = FileQueueSink(Path(folder))
        started = time.perf_counter()
        for batch in work:
            queue.put(batch)
        file_cost = (time.perf_counter() - started) / hits * 1e6
        queue.close()
    link = NatsLink(NATS_URL)
    sink = DeliveringSink(
        Publisher(link, ctx.settings).publish, Path(folder), mode="nats", on_close=link.close
    )
    sink.put(batches(ctx, 0, [0], 1, 1)[0])  # connect and create the stream first
    started = time.perf_counter()
    for batch in work:
        sink.put(batch)
    nats_cost = (time.perf_counter() - started) / hits * 1e6
    assert sink.spilled_batches == 0
    sink.close()
    return file_cost, nats_cost


def workers(ctx: Context, n: int, log: Path) -> list[subprocess.Popen[bytes]]:
    exe = Path(sys.executable).parent / "clearpixel"
    s = ctx.settings
    env = {
        **os.environ,
        "CLEARPIXEL_DATABASE_URL": s.database_url,
        "CLEARPIXEL_DATA_DIR": str(s.data_dir),
        "CLEARPIXEL_SECRET_KEYS": KEY,
        "CLEARPIXEL_NATS_STREAM": s.nats_stream,
        "CLEARPIXEL_NATS_SUBJECT": s.nats_subject,
        "CLEARPIXEL_NATS_CONSUMER": s.nats_consumer,
    }
    out = log.open("ab")
    return [
        subprocess.Popen([str(exe), "ingest", "--from", NATS_URL], env=env, stdout=out, stderr=out)
        for _ in range(n)
    ]


def seen_batches(ctx: Context, prefix: str) -> set[str]:
    with ctx.db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT batch_id FROM ingested_batches WHERE batch_id LIKE :p"),
            {"p": prefix + "%"},
        )
        return {r[0] for r in rows}


def ingest_rate(ctx: Context, work: list[Batch], n_workers: int, log: Path) -> float:
    """Hits/s applied by `n_workers` workers to a stream filled beforehand."""
    ctx = named(ctx)
    link = NatsLink(NATS_URL)
    publisher = Publisher(link, ctx.settings)
    for batch in work:
        publisher.publish(batch)
    link.close()
    prefix = work[0].id.rsplit("-", 1)[0]
    procs = workers(ctx, n_workers, log)
    try:
        started = time.perf_counter()
        while len(seen_batches(ctx, prefix)) < len(work):
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=60)
        drop_stream(ctx)
    return sum(len(b.hits) for b in work) / elapsed


def latency(ctx: Context, work: list[Batch], n_workers: int, rate: float, log: Path) -> list[float]:
    """Seconds from publishing a batch to seeing it committed, batches published at `rate`/s."""
    ctx = named(ctx)
    link = NatsLink(NATS_URL)
    publisher = Publisher(link, ctx.settings)
    publisher.publish(batches(ctx, 0, [0], 1, 1)[0])  # the stream exists before the workers
    procs = workers(ctx, n_workers, log)
    prefix = work[0].id.rsplit("-", 1)[0]
    first_seen: dict[str, float] = {}
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            now = time.perf_counter()
            for batch_id in seen_batches(ctx, prefix) - first_seen.keys():
                first_seen[batch_id] = now
            time.sleep(0.005)

    poller = threading.Thread(target=poll, daemon=True)
    published: dict[str, float] = {}
    try:
        time.sleep(3)  # the workers subscribed
        poller.start()
        for batch in work:
            published[batch.id] = time.perf_counter()
            publisher.publish(batch)
            time.sleep(max(0.0, 1 / rate - (time.perf_counter() - published[batch.id])))
        deadline = time.perf_counter() + 60
        while len(first_seen) < len(work) and time.perf_counter() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        link.close()
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=60)
        drop_stream(ctx)
    return sorted(first_seen[b] - published[b] for b in published if b in first_seen)


GRANIAN = [
    "--host",
    "127.0.0.1",
    "--workers",
    "1",
    "--runtime-mode",
    "st",
    "--loop",
    "uvloop",
    "--http",
    "1",
    "--no-ws",
    "--log-level",
    "warning",
    "--no-access-log",
]
Command = Callable[[int], list[str]]


def granian(interface: str, target: str) -> Command:
    """granian serving `target` (module:app in bench/) through `interface`, one worker."""
    exe = str(Path(sys.executable).parent / "granian")
    return lambda port: [
        exe,
        "--interface",
        interface,
        *GRANIAN,
        "--port",
        str(port),
        "--working-dir",
        str(HERE),
        target,
    ]


def uvicorn_node(port: int) -> list[str]:
    return [sys.executable, str(HERE / "node_app.py"), str(port)]


def clearpixel_node(port: int) -> list[str]:
    exe = Path(sys.executable).parent / "clearpixel"
    return [str(exe), "serve", "--role", "tracking", "--port", str(port)]


def node_env(ctx: Context, row: str) -> dict[str, str]:
    """A tracking node's environment: signing keys and NATS, no database reachable."""
    s = ctx.settings
    return {
        **os.environ,
        "CLEARPIXEL_DATA_DIR": str(s.data_dir / row),
        "CLEARPIXEL_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "CLEARPIXEL_SECRET_KEYS": KEY,
        "CLEARPIXEL_NATS_URL": NATS_URL,
        "CLEARPIXEL_NATS_STREAM": s.nats_stream,
        "CLEARPIXEL_NATS_SUBJECT": s.nats_subject,
        "CLEARPIXEL_NATS_LINKS_BUCKET": s.nats_links_bucket,
    }


def ready(port: int, timeout: float = 60) -> None:
    """Wait until the server answers HTTP (granian accepts before its worker has started)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def pinned(
    name: str,
    command: Command,
    script: Path,
    args: argparse.Namespace,
    env: dict[str, str] | None = None,
) -> WrkResult:
    """One row: the server pinned to CPU 0, wrk on CPU 1; SIGTERM after (graceful)."""
    port = free_port()
    proc = subprocess.Popen(
        ["taskset", "-c", "0", *command(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc, timeout=60)
        ready(port)
        used = cpu_seconds(proc.pid)
        result = wrk(name, port, script, args.duration, args.connections)
        result.cpu_us = (cpu_seconds(proc.pid) - used) / result.requests * 1e6
    finally:
        proc.send_signal(signal.SIGTERM)  # a node publishes its last batch
        proc.wait(timeout=120)
    return result


def consumer_backlog(ctx: Context) -> int | None:
    """Messages of the hit stream the workers have not acknowledged yet (None before the
    workers have created their consumer)."""

    async def work() -> int | None:
        nc = await nats.connect(NATS_URL)
        try:
            js = nc.jetstream()
            try:
                info = await js.consumer_info(ctx.settings.nats_stream, ctx.settings.nats_consumer)
            except NotFoundError:
                return None
            return int(info.num_pending) + int(info.num_ack_pending)
        finally:
            await nc.close()

    return asyncio.run(work())


def drained(ctx: Context, campaign_id: int, before: int) -> int:
    """Personal opens counted since `before`, once one worker has acknowledged every message
    of the stream (at most DRAIN_LIMIT seconds)."""
    procs = workers(ctx, 1, ctx.settings.data_dir / "workers.log")
    try:
        give_up = time.monotonic() + DRAIN_LIMIT
        while consumer_backlog(ctx) != 0:
            if time.monotonic() > give_up:
                print(f"stream not drained after {DRAIN_LIMIT} s", file=sys.stderr)
                break
            time.sleep(0.5)
    finally:
        for worker in procs:
            worker.terminate()
            worker.wait(timeout=60)
    dead = listed_dead_letters(ctx.db)
    if dead:
        print(f"{len(dead)} dead letter(s): {dead[-1]}", file=sys.stderr)
    return campaign_report(ctx, str(campaign_id)).personal_open_hits.total - before


def buffer_full(ctx: Context) -> int:
    """Hits answered but dropped because the node's buffer was full (counted, not ingested)."""
    with ctx.db.begin() as tx:
        return drops_of(tx, 0).get("buffer_full", 0)


def node_row(
    name: str,
    command: Command,
    ctx: Context,
    campaign_id: int,
    script: Path,
    args: argparse.Namespace,
) -> WrkResult:
    """A tracking node under wrk, publishing to JetStream; then its hits are counted."""
    before = campaign_report(ctx, str(campaign_id)).personal_open_hits.total
    full_before = buffer_full(ctx)
    env = node_env(ctx, f"node-{free_port()}")
    result = pinned(name, command, script, args, env)
    left = sorted((Path(env["CLEARPIXEL_DATA_DIR"]) / "spill").glob("*.jsonl"))
    if left:  # batches NATS did not take before the node stopped: kept for its next start
        print(f"{name}: {len(left)} spill file(s) left on disk", file=sys.stderr)
    result.ingested = drained(ctx, campaign_id, before)
    result.dropped = buffer_full(ctx) - full_before
    return result


def tracking(args: argparse.Namespace, url: str, folder: Path) -> None:
    base, campaign_id, paths = prepare(url, folder / "data", args.contacts)
    ctx = named(base)
    script = lua_script(paths, folder / "paths.lua")
    loads = [os.getloadavg()[0]]
    results = [run_nginx(folder, script, args)]
    rows: list[tuple[str, Command]] = [
        ("plain ASGI GIF, uvicorn (httptools, uvloop)", uvicorn_plain),
        ("plain ASGI GIF, granian", granian("asgi", "plain_gif_app:app")),
        ("plain RSGI GIF, granian", granian("rsgi", "plain_gif_app:rsgi_app")),
    ]
    for name, command in rows:
        if args.only and args.only not in name:
            continue
        loads.append(os.getloadavg()[0])
        results.append(pinned(name, command, script, args))
    nodes: list[tuple[str, Command]] = [
        ("tracking node, ASGI under uvicorn", uvicorn_node),
        ("tracking node, ASGI under granian", granian("asgi", "node_app:app")),
        ("clearpixel serve --role tracking (own httptools server)", clearpixel_node),
    ]
    for name, command in nodes:
        if args.only and args.only not in name:
            continue
        loads.append(os.getloadavg()[0])
        results.append(node_row(name, command, ctx, campaign_id, script, args))
    loads.append(os.getloadavg()[0])
    drop_stream(ctx)
    floor = results[0].rps
    print(f"load average (1 min) before each row and after: {', '.join(f'{x:.2f}' for x in loads)}")
    print(
        "| server (CPU 0) | requests/s | p50 | p99 | × nginx | CPU µs/request "
        "| × nginx by CPU | wrk requests | recorded | dropped (buffer full) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r.name} | {r.rps:,.0f} | {r.p50_ms:.2f} ms | {r.p99_ms:.2f} ms | "
            f"{r.rps / floor:.2f} | {r.cpu_us:.1f} | {results[0].cpu_us / r.cpu_us:.2f} | "
            f"{r.requests:,} | {'—' if r.ingested is None else f'{r.ingested:,}'} | "
            f"{'—' if r.dropped is None else f'{r.dropped:,}'} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--tracking", action="store_true")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", default="", help="with --tracking: rows whose name holds this")
    args = parser.parse_args()
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as folder, pg_schema() as url:
        if args.tracking:
            tracking(args, url, Path(folder))
            return
        base, campaign_id, paths = prepare(url, Path(folder) / "data", args.contacts)
        ids = [base.signer.verify(p[3:-4], TokenKind.PIXEL).contact_id for p in paths]
        ctx = named(base)
        log = Path(folder) / "workers.log"
        file_cost, nats_cost = publish_cost(ctx, batches(ctx, campaign_id, ids, 50, 2000))
        drop_stream(ctx)
        print(f"publish cost per hit: file queue {file_cost:.2f} us, JetStream {nats_cost:.2f} us")
        for n in (1, 2):
            work = batches(ctx, campaign_id, ids, args.batches, 2000)
            print(f"ingest, {n} worker(s): {ingest_rate(ctx, work, n, log):,.0f} hits/s")
        samples = latency(ctx, batches(ctx, campaign_id, ids, 200, 100), 2, 20.0, log)
        p50 = statistics.median(samples) * 1000
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000
        print(
            f"publish-to-counter latency (2 workers, 20 batches of 100 hits/s): "
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms over {len(samples)} batches"
        )


if __name__ == "__main__":
    main()
