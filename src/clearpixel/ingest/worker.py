"""The ingest worker (`clearpixel ingest`): applies the batches that serving processes in
hand-off mode write to `data_dir/spill/*.jsonl`, in order, each batch id exactly once.

A serving process writes each batch to a file of its own, under an exclusive lock it holds
until the line is fsynced (ingest/buffer.py). The worker reads every file: it ingests each
complete batch through the pipeline, whose transaction records the batch id, so a batch read
twice (a restarted worker starts from the top of each file; two workers may race) is applied
once. When a file's lock is free its writer is done with it (or died): the worker takes the
lock, reads to the end, counts a torn last line (kill -9 mid-write) as unreadable, and removes
the file, so a batch stays on disk only until it is committed. If the database fails the
worker keeps the files and retries after a pause: the files are the queue, so nothing is
lost while it is down.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from clearpixel.ingest.codec import batch_from_json
from clearpixel.ingest.lag import write_progress
from clearpixel.ingest.pipeline import Batch

log = logging.getLogger("clearpixel.ingest")


class IngestWorker:
    """Tails the spill folder and ingests what serving processes hand off."""

    def __init__(
        self,
        ingest: Callable[[Batch], object],
        directory: Path,
        *,
        poll: float = 0.02,
        retry_after: float = 0.5,
    ) -> None:
        self._ingest = ingest
        self.directory = directory
        self.poll = poll
        self.retry_after = retry_after
        self.stopping = threading.Event()
        self._offsets: dict[Path, int] = {}
        self.ingested_batches = 0
        self.unreadable = 0

    def run(self, *, until: Callable[[], bool] = lambda: False) -> None:
        """Ingest until `stop()` is called or `until()` holds, then drain what is complete.
        After each pass that ingested something, and at least every second, the offsets
        reached are written for `/healthz` (ingest/lag.py)."""
        reported = 0.0
        while not self.stopping.is_set() and not until():
            try:
                done = self.pass_once()
            except Exception as exc:  # the database is down: the files keep everything
                log.warning("ingest failed, will retry: %s", str(exc)[:200])
                self.stopping.wait(self.retry_after)
                continue
            now = time.time()
            if done or now - reported >= 1.0:
                self._report(now)
                reported = now
            if not done:
                self.stopping.wait(self.poll)
        try:
            self.pass_once()
        except Exception as exc:
            log.warning("final ingest failed; the spill files are kept: %s", str(exc)[:200])

    def stop(self) -> None:
        self.stopping.set()

    def _report(self, now: float) -> None:
        try:
            write_progress(self.directory, self._offsets, now=now)
        except OSError as exc:
            log.warning("ingest progress not written: %s", exc)

    def pass_once(self) -> int:
        """Ingest every complete batch now readable, oldest file first; remove the files whose
        writer is gone once they are fully ingested. Raises if the database fails."""
        if not self.directory.exists():
            return 0
        done = 0
        for path in sorted(self.directory.glob("*.jsonl")):
            try:
                done += self._drain(path)
            except FileNotFoundError:  # removed by another reader meanwhile
                self._offsets.pop(path, None)
        return done

    def _drain(self, path: Path) -> int:
        journal = path.name.endswith("-journal.jsonl")  # rewritten in place: only once closed
        done = 0 if journal else self._read(path, final=False)
        with path.open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return done  # its writer is alive
            done += self._read(path, final=True)
            path.unlink()
            self._offsets.pop(path, None)
        return done

    def _read(self, path: Path, *, final: bool) -> int:
        offset = self._offsets.get(path, 0)
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read()
        complete = data if final else data[: data.rfind(b"\n") + 1]
        done = 0
        for raw in complete.splitlines(keepends=True):
            line = raw.strip()
            if line:
                try:
                    batch = batch_from_json(line.decode())
                except (ValueError, KeyError, TypeError):
                    # only the last line of a killed writer can be torn; count it, go on
                    log.error("spill file %s at byte %d is unreadable; skipped", path, offset)
                    self.unreadable += 1
                else:
                    self._ingest(batch)
                    self.ingested_batches += 1
                    done += 1
            offset += len(raw)
            self._offsets[path] = offset
        return done


def parent_gone(parent: int) -> Callable[[], bool]:
    """True once the process `parent` has exited (this process was re-parented)."""
    return lambda: os.getppid() != parent
