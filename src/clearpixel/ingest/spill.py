"""Spill files and the journal: batches kept on local disk, appended as one fsynced JSON line
each (ingest/codec.py), until a sink has handed them on.

A process writes a file of its own under an exclusive lock (`<time>-<pid>.jsonl`) and adopts
the files of processes that are gone (their lock is free). The journal holds the one batch
being handed on right now, so a kill -9 mid-write loses nothing that was taken for writing.
Contact ids and exact times stay on disk only until their batch is handed on (R20).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from clearpixel.ingest.codec import BatchUnreadable, batch_from_json, batch_to_json
from clearpixel.ingest.pipeline import Batch

log = logging.getLogger("clearpixel.ingest")


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
        """Whether spilled batches wait to be handed on."""
        return bool(self._adopted) or self._own is not None

    @property
    def current(self) -> Path | None:
        """The file this process appends to now (None before the first append)."""
        return self._own

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
                except BatchUnreadable:
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
