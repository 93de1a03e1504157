"""What a kill -9 of `clearpixel serve` loses: hits answered (200, the GIF) but never
recorded, at a steady request rate, with ingest in a thread and with `--ingest-process`.

For each run: a fresh installation (SQLite, or PostgreSQL with --pg), `clearpixel serve`
started, paced load (keep-alive connections, each request at its slot) for a few seconds,
then SIGKILL to the serving process while the load runs. Whatever is on disk (spill files,
the journal of the batch being ingested) is then applied by `clearpixel ingest` (in
`--ingest-process` mode the old worker drains it itself and exits), and the recorded hits are
counted against the answered ones.

    uv run python bench/kill9.py [--rate 2000] [--seconds 4] [--runs 3] [--pg]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tracking import KEY, free_port, pg_schema, prepare, wait_port

from clearpixel.reports.campaign import campaign_report
from clearpixel.web.tracking import GIF


class PacedLoad:
    """`threads` connections sending pixel requests at `rate` per second in all."""

    def __init__(self, port: int, paths: list[str], rate: int, threads: int = 8) -> None:
        self.port, self.paths, self.threads = port, paths, threads
        self.interval = threads / rate
        self.answered = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.workers = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def __enter__(self) -> PacedLoad:
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for worker in self.workers:
            worker.join(30)

    def _run(self, offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        slot = time.monotonic() + offset * self.interval / self.threads
        i = offset
        deadline = time.monotonic() + 120
        while not self.stop.is_set() and time.monotonic() < deadline:
            pause = slot - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            slot += self.interval
            try:
                conn.request("GET", self.paths[i % len(self.paths)], headers={"User-Agent": "k9"})
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                return  # killed: this request was never answered
            if response.status == 200 and body == GIF:
                with self.lock:
                    self.answered += 1
            i += self.threads


def one_run(
    url: str, data_dir: Path, mode: list[str], rate: int, seconds: float
) -> tuple[int, int]:
    ctx, campaign_id, paths = prepare(url, data_dir, 2000)
    env = {
        **os.environ,
        "CLEARPIXEL_DATA_DIR": str(data_dir),
        "CLEARPIXEL_DATABASE_URL": url,
        "CLEARPIXEL_SECRET_KEYS": KEY,
    }
    exe = Path(sys.executable).parent / "clearpixel"
    port = free_port()
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), *mode],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, proc)
    with PacedLoad(port, paths, rate) as load:
        time.sleep(seconds)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # what is on disk is applied: by the old worker (--ingest-process), or by `ingest`
    worker = subprocess.Popen(
        [str(exe), "ingest"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    spill = data_dir / "spill"
    recorded, settled = -1, 0
    deadline = time.monotonic() + 120
    # until every spill and journal file is applied and removed, and the count stays put
    while settled < 10 and time.monotonic() < deadline:
        time.sleep(0.2)
        now = campaign_report(ctx, str(campaign_id)).personal_open_hits.total
        pending = list(spill.glob("*.jsonl")) if spill.exists() else []
        settled = settled + 1 if now == recorded and not pending else 0
        recorded = now
    worker.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        worker.wait(30)
    ctx.db.dispose()
    return load.answered, recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", action="store_true")
    parser.add_argument("--mode", choices=["thread", "process", "both"], default="both")
    args = parser.parse_args()
    print(f"rate {args.rate} hits/s, kill -9 after {args.seconds} s, {args.runs} runs per mode")
    modes = [("ingest thread", []), ("--ingest-process", ["--ingest-process"])]
    if args.mode != "both":
        modes = [modes[0] if args.mode == "thread" else modes[1]]
    for name, mode in modes:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                if args.pg:
                    with pg_schema() as url:
                        answered, recorded = one_run(url, Path(tmp), mode, args.rate, args.seconds)
                else:
                    url = f"sqlite:///{Path(tmp) / 'bench.db'}"
                    answered, recorded = one_run(url, Path(tmp), mode, args.rate, args.seconds)
            lost = answered - recorded
            print(
                f"{name:17} run {run + 1}: answered {answered}, recorded {recorded}, "
                f"lost {lost} ({lost / args.rate * 1000:.0f} ms of traffic)"
            )


if __name__ == "__main__":
    main()
