"""`/healthz`: the process answers and the database is reachable."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from clearpixel.web.deps import get_ctx

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    ctx = get_ctx(request)
    try:
        ctx.db.ping()
    except Exception as exc:  # health reports any failure
        return JSONResponse({"status": "degraded", "database": str(exc)[:200]}, status_code=503)
    return JSONResponse({"status": "ok", "database": ctx.db.dialect})
