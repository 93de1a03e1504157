"""Where the tracker's batches go: a `BatchSink`.

The hit buffer (ingest/buffer.py) cuts batches; a sink hands each one on, blocking, in a
worker thread. Three sinks exist, chosen by `clearpixel serve` from its configuration:

- `in_process` (the embedded default): the ingest pipeline runs in this process; a batch the
  database refuses is spilled to a local file and replayed, in order, when it can;
- `FileQueueSink` (`serve --ingest-process`): every batch is appended to a spill file of its
  own that `clearpixel ingest` (ingest/worker.py) tails;
- `jetstream` (`serve --role tracking`, ingest/jetstream.py): every batch is published to
  NATS JetStream with its id as `Nats-Msg-Id`; a batch NATS does not acknowledge is spilled
  and published again, with the same id, when NATS answers.

The first and the last share one shape, `DeliveringSink`: deliver the batch, keeping it in
the journal while it is being delivered; on failure spill it, and put every later batch
behind it so order is kept. Each batch id is applied once however often it is delivered: the
pipeline records it in the transaction that ingests it, JetStream's duplicate window drops a
republished id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

from clearpixel.ingest.pipeline import Batch
from clearpixel.ingest.spill import Journal, SpillFiles

log = logging.getLogger("clearpixel.ingest")

SinkMode = Literal["thread", "process", "nats"]


class BatchSink(Protocol):
    """Hands batches on; every method but `pending` may block (called in a worker thread)."""

    mode: SinkMode  # how /healthz names where batches go
    spill_dir: Path
    delivered_batches: int  # handed on (ingested, queued or published)
    spilled_batches: int  # kept on disk because they could not be handed on

    def open(self) -> None:
        """Take over what a stopped process left behind (its spill files)."""

    def put(self, batch: Batch | None, *, force: bool = False) -> None:
        """Hand on `batch` (None: only retry what is held back; `force`: retry now, not after
        the pause). Never raises for a failed delivery: the batch is kept on disk instead."""

    def pending(self) -> bool:
        """Whether batches are held back on disk, waiting to be handed on."""

    def pause(self) -> None:
        """Nothing is being written: release the files so another process may read them."""

    def close(self) -> None:
        """The last batch was put: release everything (the process stops)."""


class DeliveringSink:
    """Delivers each batch at once (`deliver` raises on failure); spills what fails."""

    def __init__(
        self,
        deliver: Callable[[Batch], object],
        spill_dir: Path,
        *,
        mode: SinkMode,
        retry_after: float = 0.5,
        on_close: Callable[[], object] | None = None,
    ) -> None:
        self._deliver = deliver
        self.mode = mode
        self.spill_dir = spill_dir
        self.spill = SpillFiles(spill_dir)
        self.journal = Journal(spill_dir)
        self.retry_after = retry_after
        self._on_close = on_close
        self._next_replay = 0.0
        self.delivered_batches = 0
        self.spilled_batches = 0

    def open(self) -> None:
        self.spill.adopt_orphans()

    def pending(self) -> bool:
        return self.spill.pending()

    def put(self, batch: Batch | None, *, force: bool = False) -> None:
        if self.spill.pending():
            if batch is not None:
                self.spill.append(batch)
                self.spilled_batches += 1
            self._replay(force=force)
            return
        if batch is None:
            return
        self.journal.write(batch)
        try:
            self._deliver(batch)
            self.delivered_batches += 1
        except Exception as exc:
            log.warning(
                "batch %s not delivered (%s), spilled to %s: %s",
                batch.id,
                self.mode,
                self.spill_dir,
                str(exc)[:200],
            )
            self.spill.append(batch)
            self.spilled_batches += 1
            self._next_replay = time.monotonic() + self.retry_after
        finally:
            self.journal.clear()

    def _replay(self, *, force: bool) -> None:
        if not force and time.monotonic() < self._next_replay:
            return
        try:
            self.delivered_batches += self.spill.replay(self._deliver)
        except Exception as exc:
            log.warning("still not deliverable (%s), spill kept: %s", self.mode, str(exc)[:200])
            self._next_replay = time.monotonic() + self.retry_after

    def pause(self) -> None:
        self.journal.close()

    def close(self) -> None:
        self.spill.close()
        self.journal.close()
        if self._on_close is not None:
            self._on_close()


def in_process(ingest: Callable[[Batch], object], spill_dir: Path) -> DeliveringSink:
    """The embedded default: this process ingests each batch (in the buffer's thread)."""
    return DeliveringSink(ingest, spill_dir, mode="thread")


class FileQueueSink:
    """Hand-off to `clearpixel ingest`: each batch in a spill file of its own, fsynced and
    released at once; the worker removes the file once the batch is committed."""

    mode: SinkMode = "process"

    def __init__(self, spill_dir: Path, *, on_close: Callable[[], object] | None = None) -> None:
        self.spill_dir = spill_dir
        self.spill = SpillFiles(spill_dir)
        self._on_close = on_close
        self.delivered_batches = 0
        self.spilled_batches = 0

    def open(self) -> None:
        """Nothing to adopt: the files left behind are the worker's queue."""

    def pending(self) -> bool:
        return False

    def put(self, batch: Batch | None, *, force: bool = False) -> None:
        if batch is not None:
            self.spill.append(batch)
            self.spill.release()
            self.delivered_batches += 1

    def pause(self) -> None:
        self.spill.release()

    def close(self) -> None:
        self.spill.release()
        self.spill.close()
        if self._on_close is not None:
            self._on_close()
