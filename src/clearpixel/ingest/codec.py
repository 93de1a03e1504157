"""The one batch codec: how a batch of hits travels between processes (spill files, the
local file queue, JetStream messages) and is kept in the dead-letter table.

A batch is one JSON object: its id (what makes a replay apply exactly once), the drops the
request path counted, and its hits as lists of values in `FIELDS` order. What goes out is what
ingest needs to count a hit, never who made it: hits carry no IP address or user agent (R20).
"""

from __future__ import annotations

import json
from operator import attrgetter
from typing import Any

from clearpixel.domain.events import Hit, HitSource, Verdict
from clearpixel.ingest.pipeline import Batch

FIELDS = (
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
_OLD_WIDTH = len(FIELDS) + 2


class BatchUnreadable(ValueError):
    """Bytes that are not a batch (a torn line, a foreign message)."""


_values = attrgetter(*FIELDS)
SEPARATORS = (",", ":")
SLICE = 200  # hits encoded per json.dumps call
_last: tuple[Batch, str] | None = None


def batch_to_json(batch: Batch) -> str:
    """One batch as one line of JSON (no newline inside). The last batch encoded is
    remembered: a sink writes it to its journal, then publishes it, from one encoding."""
    global _last
    last = _last
    if last is not None and last[0] is batch:
        return last[1]
    head = json.dumps({"id": batch.id, "drops": batch.drops, "hits": []}, separators=SEPARATORS)
    # the hits in slices: one json.dumps holds the GIL throughout, and a whole batch would
    # hold answers back on the event loop for milliseconds
    hits = batch.hits
    parts = [
        json.dumps(list(map(_values, hits[i : i + SLICE])), separators=SEPARATORS)[1:-1]
        for i in range(0, len(hits), SLICE)
    ]
    line = head[:-2] + ",".join(parts) + "]}"  # head ends with "hits":[]}
    _last = (batch, line)
    return line


def batch_from_json(line: str | bytes) -> Batch:
    """The batch a line holds; raises BatchUnreadable when it holds none."""
    try:
        data = json.loads(line)
        hits = []
        for values in data["hits"]:
            if len(values) == _OLD_WIDTH:
                values = values[: len(FIELDS)]
            fields: dict[str, Any] = dict(zip(FIELDS, values, strict=True))
            fields["source"] = HitSource(fields["source"])
            fields["verdict"] = Verdict(fields["verdict"])
            hits.append(Hit(**fields))
        return Batch(
            str(data["id"]), hits, {str(k): int(v) for k, v in (data.get("drops") or {}).items()}
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BatchUnreadable(f"not a batch of hits: {exc}") from exc


def encode(batch: Batch) -> bytes:
    return batch_to_json(batch).encode()


def decode(payload: bytes) -> Batch:
    return batch_from_json(payload)
