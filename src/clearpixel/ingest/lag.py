"""How far ingest is behind, for `/healthz`: hits answered but not yet in the database.

Unprocessed are the hits queued in this process's memory, and the spill files' bytes that no
ingest has applied yet: all of a spill file while the database is down (a thread replays it),
or, with `serve --ingest-process`, what lies past the offset the worker last reported in
`ingest-progress.json` (it rewrites that file after every pass, at least every second). The
age of the oldest unprocessed batch is read from the first unprocessed line (its first hit's
time) or, failing that, from the time in the file's name; a dead or stuck worker shows as an
age that keeps growing.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from clearpixel.ingest.codec import batch_from_json

PROGRESS_FILE = "ingest-progress.json"


@dataclass(frozen=True, slots=True)
class IngestLag:
    queued_hits: int
    unprocessed_bytes: int
    oldest_seconds: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "queued_hits": self.queued_hits,
            "unprocessed_bytes": self.unprocessed_bytes,
            "oldest_unprocessed_seconds": round(self.oldest_seconds, 1),
        }


def write_progress(directory: Path, offsets: dict[Path, int], *, now: float) -> None:
    """Record how far the worker has read each spill file (written, then renamed)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / PROGRESS_FILE
    draft = directory / (PROGRESS_FILE + ".draft")
    body = {"at": now, "offsets": {path.name: offset for path, offset in offsets.items()}}
    draft.write_text(json.dumps(body))
    os.replace(draft, target)


def _offsets(directory: Path, *, handoff: bool) -> dict[str, int]:
    if not handoff:
        return {}
    try:
        data = json.loads((directory / PROGRESS_FILE).read_text())
        return {str(k): int(v) for k, v in dict(data["offsets"]).items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def measure(
    directory: Path,
    *,
    handoff: bool,
    queued_hits: int = 0,
    oldest_queued_at: float | None = None,
    now: float | None = None,
) -> IngestLag:
    """The ingest lag of a data folder's spill files and this process's queue."""
    now = time.time() if now is None else now
    offsets = _offsets(directory, handoff=handoff)
    unprocessed = 0
    oldest = oldest_queued_at
    files = sorted(directory.glob("*.jsonl")) if directory.exists() else []
    for path in files:
        if path.name.endswith("-journal.jsonl"):
            continue  # the batch a thread is ingesting right now
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        offset = offsets.get(path.name, 0)
        if size <= offset:
            continue
        unprocessed += size - offset
        started = _first_unprocessed_time(path, offset)
        if started is not None and (oldest is None or started < oldest):
            oldest = started
    age = max(0.0, now - oldest) if oldest is not None else 0.0
    return IngestLag(queued_hits, unprocessed, age)


def _first_unprocessed_time(path: Path, offset: int) -> float | None:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            line = handle.readline()
        hits = batch_from_json(line.decode()).hits
        if hits:
            return hits[0].at
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:  # spill files are named <time_ns>-<pid>.jsonl
        return int(path.name.split("-", 1)[0]) / 1e9
    except ValueError:
        return None
