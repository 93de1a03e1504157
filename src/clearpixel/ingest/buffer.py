"""Write-behind buffer for hits: flushes on size, on a timer and on shutdown; spills to an
append-only local file when the database cannot take a batch, and replays that file in order,
each batch exactly once, when it can.

In hand-off mode (`handoff=True`, `clearpixel serve --ingest-process`) the serving process
never ingests: every batch is written to a spill file of its own, and the ingest worker
(ingest/worker.py, another process) applies them, each batch id once, and removes each file
as soon as its batch is committed.

What goes to disk is what ingest needs to count a hit (source, campaign, contact, link,
purposes, verdict, reason, rule, time), never who made it: hits carry no IP address or user
agent (R20). Contact ids and exact times stay on disk only until their batch is committed.

The request path only appends to a list (no I/O, no lock: one event loop). A flusher task
hands batches to the pipeline in a worker thread. When a batch fails it is appended, with its
id, to `data_dir/spill/<time>-<pid>.jsonl` (one JSON line per batch, flushed and fsynced);
while spill files exist every new batch goes behind them, so order is kept. Replay ingests
the lines in order; the pipeline records each batch id in the transaction that ingests it, so
a batch whose commit was in doubt is skipped, never counted twice. A graceful stop flushes
everything (to the database or the spill file). A kill -9 loses the hits still in memory:
those answered since the last batch was taken for writing, i.e. one flush interval plus the
time the batch being written takes. In hand-off mode that write is an fsynced append (a few
ms); with ingest in a thread it is the batch's database transaction, while the next hits
queue behind it (bench/README.md, "kill -9", at 2,000 hits/s on a loaded machine: 0.1-0.7 s
of traffic in a thread, 0-0.12 s in hand-off mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from clearpixel.domain.events import DropReason, Hit, HitSource, Verdict
from clearpixel.ingest.pipeline import Batch, IngestResult

log = logging.getLogger("clearpixel.ingest")

_FIELDS = (
    "source",
    "at",
    "campaign_id",
    "public_id",
    "contact_id",
    "purposes",
    "link_id",
    "verdict",
    "reason",
    "rule",
    "scanner_net",
)
# Spill lines written before hits lost their IP and user agent carried them last: a file left
# by an older version is still replayed, without them.
_OLD_WIDTH = len(_FIELDS) + 2


def batch_to_json(batch: Batch) -> str:
    hits = [[getattr(hit, name) for name in _FIELDS] for hit in batch.hits]
    return json.dumps({"id": batch.id, "drops": batch.drops, "hits": hits}, separators=(",", ":"))


def batch_from_json(line: str) -> Batch:
    data = json.loads(line)
    hits = []
    for values in data["hits"]:
        if len(values) == _OLD_WIDTH:
            values = values[: len(_FIELDS)]
        fields: dict[str, Any] = dict(zip(_FIELDS, values, strict=True))
        fields["source"] = HitSource(fields["source"])
        fields["verdict"] = Verdict(fields["verdict"])
        hits.append(Hit(**fields))
    return Batch(str(data["id"]), hits, dict(data.get("drops") or {}))


def remove_stale_spill_files(directory: Path, *, modified_before: float) -> int:
    """Retention of raw hits (R20): delete spill and journal files last written before
    `modified_before` (a Unix time) whose lock is free, so a file a live process still writes
    or replays is never pulled from under it. Returns how many were deleted."""
    if not directory.exists():
        return 0
    removed = 0
    for path in sorted(directory.glob("*.jsonl")):
        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue
            if path.stat().st_mtime < modified_before:
                path.unlink()
                removed += 1
    return removed


class SpillFiles:
    """The append-only spill files of one data folder. This process writes its own file and
    adopts the files of processes that are gone (their lock is free)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._own: Path | None = None
        self._own_handle: IO[str] | None = None
        self._adopted: dict[Path, IO[str]] = {}
        self.unreadable = 0

    def adopt_orphans(self) -> None:
        """Lock and take over spill files left by stopped processes."""
        if not self.directory.exists():
            return
        for path in sorted(self.directory.glob("*.jsonl")):
            if path == self._own or path in self._adopted:
                continue
            handle = path.open("a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self._adopted[path] = handle

    def pending(self) -> bool:
        return bool(self._adopted) or self._own is not None

    def append(self, batch: Batch) -> None:
        """Append one batch as one line, flushed and fsynced before returning."""
        if self._own_handle is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{time.time_ns():020d}-{os.getpid()}"
            # created and locked under a name no reader looks at, then renamed: a reader never
            # sees the file unlocked while its writer lives
            draft = self.directory / f"{name}.draft"
            self._own_handle = draft.open("a+")
            fcntl.flock(self._own_handle, fcntl.LOCK_EX)
            self._own = self.directory / f"{name}.jsonl"
            draft.rename(self._own)
        self._own_handle.write(batch_to_json(batch) + "\n")
        self._own_handle.flush()
        os.fsync(self._own_handle.fileno())

    def release(self) -> None:
        """Close this process's file (its lock goes with it) so that a reader may finish and
        remove it; the next append starts a new file."""
        if self._own_handle is not None:
            self._own_handle.close()
        self._own, self._own_handle = None, None

    def replay(self, ingest: Callable[[Batch], object]) -> int:
        """Ingest every spilled batch in order, oldest file first; a file is removed once all
        its batches are in. Raises (keeping the files) if the database fails again."""
        done = 0
        files = sorted([*self._adopted.items(), *self._own_items()], key=lambda kv: kv[0].name)
        for path, handle in files:
            handle.flush()
            handle.seek(0)
            for number, line in enumerate(handle.read().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    batch = batch_from_json(line)
                except (ValueError, KeyError, TypeError):
                    # only the last line of a killed writer can be torn; count it, go on
                    log.error("spill file %s line %d is unreadable; skipped", path, number)
                    self.unreadable += 1
                    continue
                ingest(batch)
                done += 1
            path.unlink()
            handle.close()
            if path == self._own:
                self._own, self._own_handle = None, None
            else:
                del self._adopted[path]
        return done

    def _own_items(self) -> list[tuple[Path, IO[str]]]:
        if self._own is None or self._own_handle is None:
            return []
        return [(self._own, self._own_handle)]

    def close(self) -> None:
        for handle in [*self._adopted.values(), *(h for _, h in self._own_items())]:
            handle.close()


class Journal:
    """The batch being ingested, kept on disk (fsynced) until its transaction has committed or
    it was spilled. After a kill -9 the next process adopts the file like a spill file and
    replays it; the batch id makes that exactly once. So a crash loses only the hits still in
    memory: those queued behind this batch (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._path: Path | None = None
        self._handle: IO[str] | None = None

    def write(self, batch: Batch) -> None:
        if self._handle is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._path = self.directory / f"{time.time_ns():020d}-{os.getpid()}-journal.jsonl"
            self._handle = self._path.open("a+")
            fcntl.flock(self._handle, fcntl.LOCK_EX)
        self._handle.seek(0)
        self._handle.truncate(0)
        self._handle.write(batch_to_json(batch) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def clear(self) -> None:
        if self._handle is not None:
            self._handle.truncate(0)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._path is not None and self._path.exists() and not self._path.stat().st_size:
            self._path.unlink()


class HitBuffer:
    """Collects hits on the event loop and ingests them in batches."""

    def __init__(
        self,
        ingest: Callable[[Batch], IngestResult],
        spill_dir: Path,
        *,
        max_batch: int = 2000,
        interval: float = 0.05,
        capacity: int = 500_000,
        retry_after: float = 0.5,
        handoff: bool = False,
    ) -> None:
        self._ingest = ingest
        self.spill = SpillFiles(spill_dir)
        self.journal = Journal(spill_dir)
        self.max_batch = max_batch
        self.interval = interval
        self.capacity = capacity
        self.retry_after = retry_after
        self.handoff = handoff
        self._hits: list[Hit] = []
        self._drops: Counter[str] = Counter()
        self._run = uuid.uuid4().hex[:16]
        self._seq = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._next_replay = 0.0
        self.ingested_batches = 0
        self.spilled_batches = 0

    def add(self, hit: Hit) -> None:
        """Queue a hit (request path: no I/O). When the buffer is full the hit is counted
        as dropped (buffer_full) rather than delaying the answer."""
        if len(self._hits) >= self.capacity:
            self._drops[str(DropReason.BUFFER_FULL)] += 1
            return
        self._hits.append(hit)
        if len(self._hits) >= self.max_batch:
            self._wake.set()

    def count_drop(self, reason: DropReason) -> None:
        """Count a hit the request path refused (bad token, unknown link)."""
        self._drops[str(reason)] += 1

    def __len__(self) -> int:
        return len(self._hits)

    def oldest_queued_at(self) -> float | None:
        """When the oldest hit still in memory arrived (None when none is queued)."""
        hits = self._hits
        return hits[0].at if hits else None

    async def start(self) -> None:
        if not self.handoff:
            self.spill.adopt_orphans()
        self._task = asyncio.create_task(self._loop(), name="clearpixel-hit-buffer")

    async def stop(self) -> None:
        """Flush everything (to the database, or else to the spill file), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._hits or self._drops:
            await self.flush()
        if self.handoff:
            self.spill.release()
        self.spill.close()
        self.journal.close()

    def flush_now(self) -> None:
        """Write everything queued, synchronously, on the caller's thread (CLI and tests
        that do not run an event loop), then close the journal. Must not run while the
        flusher task runs."""
        try:
            while self._hits or self._drops or self.spill.pending():
                hits, self._hits = self._hits[: self.max_batch], self._hits[self.max_batch :]
                drops, self._drops = dict(self._drops), Counter()
                batch = None
                if hits or drops:
                    self._seq += 1
                    batch = Batch(f"{self._run}-{self._seq}", hits, drops)
                self._next_replay = 0.0
                self._write(batch)
                if self.spill.pending() and not self._hits and not self._drops:
                    return
        finally:
            if self.handoff:
                self.spill.release()
            self.journal.close()

    async def _loop(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # the flusher must survive anything
                log.exception("hit buffer flush failed")

    async def flush(self) -> None:
        """Take what is queued (at most one batch) and write it in a worker thread."""
        hits, self._hits = self._hits[: self.max_batch], self._hits[self.max_batch :]
        drops, self._drops = dict(self._drops), Counter()
        if not hits and not drops and (self.handoff or not self.spill.pending()):
            return
        batch = None
        if hits or drops:
            self._seq += 1
            batch = Batch(f"{self._run}-{self._seq}", hits, drops)
        await asyncio.to_thread(self._write, batch)

    def _write(self, batch: Batch | None) -> None:
        if self.handoff:
            if batch is not None:
                # one file per batch: the worker removes it once the batch is committed
                self.spill.append(batch)
                self.spill.release()
                self.spilled_batches += 1
            return
        if self.spill.pending():
            if batch is not None:
                self.spill.append(batch)
                self.spilled_batches += 1
            self._replay(force=self._stopping)
            return
        if batch is None:
            return
        self.journal.write(batch)
        try:
            self._ingest(batch)
            self.ingested_batches += 1
        except Exception as exc:
            log.warning(
                "ingest of batch %s failed, spilled to %s: %s",
                batch.id,
                self.spill.directory,
                str(exc)[:200],
            )
            self.spill.append(batch)
            self.spilled_batches += 1
            self._next_replay = time.monotonic() + self.retry_after
        finally:
            self.journal.clear()

    def _replay(self, *, force: bool = False) -> None:
        if not force and time.monotonic() < self._next_replay:
            return
        try:
            self.ingested_batches += self.spill.replay(self._ingest)
        except Exception as exc:
            log.warning("database still unavailable, spill kept: %s", str(exc)[:200])
            self._next_replay = time.monotonic() + self.retry_after
