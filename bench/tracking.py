"""Tracking endpoint speed: nginx `empty_gif` (access log on) beside `clearpixel serve`'s
personal-pixel endpoint with ingest on SQLite and on PostgreSQL, one core each.

Each server is pinned to CPU 0 with taskset, wrk to CPU 1, same duration and connections,
with a Lua script cycling through a few thousand valid personal-pixel URLs. After each
clearpixel run the server is stopped with SIGTERM (graceful: the buffer is flushed) and the
ingested hits are counted against wrk's request count. Each clearpixel server runs twice:
ingest in a thread of the serving process, and `--ingest-process` (the ingest worker moved
to CPU 1, shared with wrk); once more on PostgreSQL with the worker stopped (SIGSTOP) during
the load and resumed before the server's SIGTERM, which shows the serving core alone. Then,
in-process: ingest throughput (hits/s into PostgreSQL, batches of 2,000) and the time from
one hit to its counter.
Everything targets 127.0.0.1 and every load loop is bounded in time.

    uv run python bench/tracking.py [--duration 10] [--connections 32] [--contacts 3000]
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from clearpixel.config import Settings
from clearpixel.consent import record_decisions
from clearpixel.context import Context, open_context
from clearpixel.domain.events import Hit, HitSource, Verdict
from clearpixel.domain.ledger import Decision, Method
from clearpixel.domain.tokens import Token, TokenKind
from clearpixel.domain.urls import pixel_path
from clearpixel.ingest.pipeline import Batch, Pipeline
from clearpixel.reports.campaign import campaign_report
from clearpixel.store.campaigns import create_campaign, register_links
from clearpixel.store.contacts import insert_contacts
from clearpixel.store.lists import create_list
from clearpixel.store.purposes import sync_purposes
from clearpixel.store.schema import sends
from clearpixel.store.sends import insert_pending

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KEY = "bench-signing-key-0123456789abcdef0123456789abcdef"
HERE = Path(__file__).parent
UA = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)"


@dataclass
class WrkResult:
    name: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: str
    ingested: int | None = None
    dropped: int | None = None  # hits answered but dropped because the buffer was full
    cpu_us: float = float("nan")  # CPU time of the server (all its processes) per request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants so far."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema in the PostgreSQL test database, dropped afterwards."""
    schema = "bench_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def prepare(url: str, data_dir: Path, contacts: int) -> tuple[Context, int, list[str]]:
    """A list of consenting contacts, a sent campaign, and one pixel URL per contact."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=url,
        secret_keys=[KEY],
    )
    ctx = open_context(settings)
    now = ctx.now()
    with ctx.db.begin() as tx:
        sync_purposes(tx, ctx.purposes)
        list_id = create_list(tx, "bench", now=now).id
        rows = [{"list_id": list_id, "email": f"p{i}@example.org"} for i in range(contacts)]
        ids = insert_contacts(tx, rows, now=now)
        record_decisions(
            tx,
            [
                Decision(cid, list_id, r["email"], 1, 0, Method.IMPORT, now)
                for cid, r in zip(ids, rows, strict=True)
            ],
            cooldown=ctx.cooldown,
        )
        campaign = create_campaign(
            tx,
            public_id="benchpub",
            list_id=list_id,
            name="bench",
            kind="marketing",
            subject="s",
            html="<p>x</p>",
            text=None,
            from_addr="news@example.org",
            now=now,
        )
        register_links(tx, campaign.id, ["https://example.org/"])
        insert_pending(
            tx,
            [
                {
                    "campaign_id": campaign.id,
                    "contact_id": cid,
                    "kind": "marketing",
                    "mode": "personal",
                    "purposes": 1,
                }
                for cid in ids
            ],
            now=now,
        )
        tx.execute(
            sends.update()
            .where(sends.c.campaign_id == campaign.id)
            .values(status="sent", sent_at=now - timedelta(days=1))
        )
    paths = [
        pixel_path(
            ctx.signer.sign(
                Token(TokenKind.PIXEL, contact_id=cid, campaign_id=campaign.id, purposes=1)
            )
        )
        for cid in ids
    ]
    return ctx, campaign.id, paths


def lua_script(paths: list[str], target: Path) -> Path:
    body = ",\n".join(f'  "{p}"' for p in paths)
    target.write_text(
        "local paths = {\n" + body + "\n}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        '  return wrk.format("GET", paths[(i % #paths) + 1], {["User-Agent"] = "'
        + UA
        + '"})\nend\n'
    )
    return target


def wrk(name: str, port: int, script: Path, duration: int, connections: int) -> WrkResult:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    ).stdout

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Socket errors:.*|Non-2xx.*", out)
    return WrkResult(
        name, requests, rps, latency("50"), latency("99"), errors.group(0) if errors else ""
    )


def run_nginx(work: Path, script: Path, args: argparse.Namespace) -> WrkResult:
    prefix = work / "nginx"
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text((HERE / "nginx-tracking.conf").read_text().format(prefix=prefix, port=port))
    proc = subprocess.Popen(
        ["taskset", "-c", "0", "nginx", "-c", str(conf), "-p", str(prefix)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc)
        used = cpu_seconds(proc.pid)
        result = wrk(
            "nginx empty_gif (access_log on)", port, script, args.duration, args.connections
        )
        result.cpu_us = (cpu_seconds(proc.pid) - used) / result.requests * 1e6
    finally:
        proc.send_signal(signal.SIGQUIT)
        proc.wait(timeout=30)
    with (prefix / "access.log").open() as log:
        result.ingested = sum(1 for _ in log)
    return result


def worker_ready(pid: int, timeout: float = 30) -> None:
    """Wait until the ingest worker has started (it has installed its SIGTERM handler)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
        if int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.02)
    raise RuntimeError("the ingest worker did not start")


@contextmanager
def serve(
    ctx: Context, port: int, ingest_process: bool = False, pause_worker: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "CLEARPIXEL_DATA_DIR": str(ctx.settings.data_dir),
        "CLEARPIXEL_DATABASE_URL": ctx.settings.database_url,
        "CLEARPIXEL_SECRET_KEYS": KEY,
    }
    exe = Path(sys.executable).parent / "clearpixel"
    proc = subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            str(exe),
            "serve",
            "--port",
            str(port),
            *(["--ingest-process"] if ingest_process else []),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc)
        if ingest_process:  # the ingest worker inherited CPU 0: move it to CPU 1 (wrk's)
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            for child in children:
                subprocess.run(["taskset", "-p", "-c", "1", child], check=True, capture_output=True)
                worker_ready(int(child))
                if pause_worker:  # the files queue the hits; it catches up after the load
                    os.kill(int(child), signal.SIGSTOP)
        yield proc
    finally:
        if ingest_process and pause_worker:
            for child in children:
                os.kill(int(child), signal.SIGCONT)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # graceful: the buffer is flushed
            proc.wait(timeout=120)


def run_clearpixel(
    name: str,
    ctx: Context,
    campaign_id: int,
    script: Path,
    args: argparse.Namespace,
    ingest_process: bool = False,
    pause_worker: bool = False,
) -> WrkResult:
    port = free_port()
    before = campaign_report(ctx, str(campaign_id)).personal_open_hits.total
    with serve(ctx, port, ingest_process, pause_worker):
        result = wrk(name, port, script, args.duration, args.connections)
    result.ingested = campaign_report(ctx, str(campaign_id)).personal_open_hits.total - before
    return result


def uvicorn_plain(port: int) -> list[str]:
    """uvicorn serving the plain GIF app: httptools, uvloop, no access log."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "plain_gif_app:app",
        "--app-dir",
        str(HERE),
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def run_plain(script: Path, args: argparse.Namespace) -> WrkResult:
    """uvicorn serving bench/plain_gif_app.py: Python's floor on this machine."""
    port = free_port()
    proc = subprocess.Popen(
        ["taskset", "-c", "0", *uvicorn_plain(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc)
        return wrk(
            "plain ASGI GIF under uvicorn (records nothing)",
            port,
            script,
            args.duration,
            args.connections,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def ingest_throughput(ctx: Context, campaign_id: int, paths: list[str], batches: int = 25) -> float:
    """Hits/s through the whole pipeline into the database, batches of 2,000 personal opens."""
    ids = [ctx.signer.verify(p[3:-4], TokenKind.PIXEL).contact_id for p in paths]
    pipeline = Pipeline(ctx.db, ctx.policy, now=ctx.now)
    at = ctx.now().timestamp()
    run = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    for b in range(batches):
        hits = [
            Hit(
                source=HitSource.PERSONAL,
                at=at,
                campaign_id=campaign_id,
                contact_id=ids[(b * 2000 + i) % len(ids)],
                purposes=1,
                verdict=Verdict.HUMAN,
                rule="ua:outlook_desktop@bench",
            )
            for i in range(2000)
        ]
        pipeline.ingest(Batch(f"bench-{run}-{b}", hits))
    return batches * 2000 / (time.perf_counter() - started)


def hit_to_counter(
    ctx: Context,
    campaign_id: int,
    paths: list[str],
    trials: int = 20,
    ingest_process: bool = False,
) -> list[float]:
    """Seconds from sending one hit to seeing it in the counters (server buffer + ingest)."""
    port = free_port()
    samples = []
    with serve(ctx, port, ingest_process):
        for i in range(trials):
            before = campaign_report(ctx, str(campaign_id)).personal_open_hits.total
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", paths[i], headers={"User-Agent": UA})
            conn.getresponse().read()
            conn.close()
            deadline = started + 10
            while time.perf_counter() < deadline:
                if campaign_report(ctx, str(campaign_id)).personal_open_hits.total > before:
                    break
                time.sleep(0.002)
            samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--contacts", type=int, default=3000)
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("nginx"):
        sys.exit("needs wrk and nginx (apt-get install -y wrk nginx-light)")
    results: list[WrkResult] = []
    with tempfile.TemporaryDirectory() as tmp, pg_schema() as pg_url:
        work = Path(tmp)
        sqlite_ctx, sqlite_campaign, paths = prepare(
            f"sqlite:///{work / 'sqlite-data' / 'clearpixel.db'}",
            work / "sqlite-data",
            args.contacts,
        )
        script = lua_script(paths, work / "pixels.lua")
        pg_ctx, pg_campaign, pg_paths = prepare(pg_url, work / "pg-data", args.contacts)
        pg_script = lua_script(pg_paths, work / "pg-pixels.lua")

        results.append(run_nginx(work, script, args))
        results.append(run_plain(script, args))
        results.append(
            run_clearpixel(
                "clearpixel serve, ingest on SQLite", sqlite_ctx, sqlite_campaign, script, args
            )
        )
        results.append(
            run_clearpixel(
                "clearpixel serve, ingest on PostgreSQL", pg_ctx, pg_campaign, pg_script, args
            )
        )
        results.append(
            run_clearpixel(
                "clearpixel serve --ingest-process, SQLite (worker on CPU 1)",
                sqlite_ctx,
                sqlite_campaign,
                script,
                args,
                ingest_process=True,
            )
        )
        results.append(
            run_clearpixel(
                "clearpixel serve --ingest-process, PostgreSQL (worker on CPU 1)",
                pg_ctx,
                pg_campaign,
                pg_script,
                args,
                ingest_process=True,
            )
        )
        results.append(
            run_clearpixel(
                "clearpixel serve --ingest-process, PostgreSQL (worker paused during the load)",
                pg_ctx,
                pg_campaign,
                pg_script,
                args,
                ingest_process=True,
                pause_worker=True,
            )
        )
        throughput = ingest_throughput(pg_ctx, pg_campaign, pg_paths)
        latency = hit_to_counter(pg_ctx, pg_campaign, pg_paths)
        latency_process = hit_to_counter(pg_ctx, pg_campaign, pg_paths, ingest_process=True)
        sqlite_ctx.db.dispose()
        pg_ctx.db.dispose()

    nginx = results[0].rps
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; "
        f"load average after the run {load}"
    )
    print(
        f"wrk -t1 -c{args.connections} -d{args.duration}s, "
        f"{len(paths)} distinct personal-pixel URLs\n"
    )
    print("| server (CPU 0) | requests/s | p50 | p99 | × nginx | wrk requests | recorded |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r.name} | {r.rps:,.0f} | {r.p50_ms:.2f} ms | {r.p99_ms:.2f} ms | "
            f"{r.rps / nginx:.2f} | {r.requests:,} | "
            + (f"{r.ingested:,} |" if r.ingested is not None else "— |")
            + (f" {r.errors}" if r.errors else "")
        )
    print(f"\ningest throughput into PostgreSQL: {throughput:,.0f} hits/s (batches of 2,000)")
    print(
        f"hit to counter (PostgreSQL, {len(latency)} hits): median "
        f"{statistics.median(latency) * 1000:.0f} ms, max {max(latency) * 1000:.0f} ms; "
        f"with --ingest-process: median {statistics.median(latency_process) * 1000:.0f} ms, "
        f"max {max(latency_process) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
