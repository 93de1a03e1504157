"""`/healthz`: the process answers, the database is reachable, and ingest keeps up.

Public, so it says only "ok" or "degraded" and numbers: never the database's host, port,
name or error text. Degraded (503) when the database cannot be reached, or when the oldest
hit answered but not yet ingested is older than CLEARPIXEL_INGEST_LAG_SECONDS (a stopped or
stuck ingest worker, a database that refuses writes).
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from clearpixel.ingest.lag import measure
from clearpixel.ingest.tracker import Tracker
from clearpixel.web.deps import get_ctx

router = APIRouter(include_in_schema=False)
log = logging.getLogger("clearpixel.web.health")


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    ctx = get_ctx(request)
    database = "ok"
    try:
        ctx.db.ping()
    except Exception:  # health reports any failure, in the log, not to the public
        log.warning("health: database unreachable", exc_info=True)
        database = "unreachable"
    tracker: Tracker | None = getattr(request.app.state, "tracker", None)
    mode = tracker.sink.mode if tracker else "thread"
    lag = measure(
        ctx.settings.data_dir / "spill",
        handoff=mode == "process",
        queued_hits=len(tracker.buffer) if tracker else 0,
        oldest_queued_at=tracker.buffer.oldest_queued_at() if tracker else None,
        now=time.time(),
    )
    behind = lag.oldest_seconds > ctx.settings.ingest_lag_seconds
    status = "ok" if database == "ok" and not behind else "degraded"
    body = {
        "status": status,
        "database": database,
        "ingest": {"mode": mode, **lag.as_dict()},
    }
    return JSONResponse(body, status_code=200 if status == "ok" else 503)
