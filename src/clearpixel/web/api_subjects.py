"""REST API for data-subject requests. The address travels in the request body, never in a
URL, so access logs do not collect it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from clearpixel.subjects import access, erasure
from clearpixel.web.api_base import ApiRoute, KeyDep
from clearpixel.web.deps import get_ctx

# Included by `api.router`, which adds the prefix, the key check and the error responses.
router = APIRouter(route_class=ApiRoute)


class SubjectIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)


@router.post("/subjects/export", tags=["subjects"])
def post_subject_export(request: Request, body: SubjectIn) -> Response:
    """Everything held on the address in every list (format `clearpixel-subject-export/1`):
    memberships, attributes, consent per purpose, ledger entries with their notices, sends,
    consent requests, personal events, and what is held that is not personal data."""
    data = access.subject_export(get_ctx(request), body.email)
    return Response(access.export_json(data), media_type="application/json")


class ErasureIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    reason: str = Field(min_length=1, max_length=500, description="Why (recorded in the ledger).")


class ErasureOut(BaseModel):
    lists: list[str]
    at: str
    ledger_entries: list[int] = Field(description="The seq of each erasure entry.")
    removed: dict[str, int] = Field(description="Rows removed or emptied, per table.")
    outbox_files: int
    kept: str = Field(description="What is kept instead of the address, and why.")


@router.post("/subjects/erase", tags=["subjects"])
def post_subject_erase(request: Request, body: ErasureIn, key_id: KeyDep) -> ErasureOut:
    """Erase the address from every list: memberships, attributes, personal events, the
    personal fields of sends and bounces, ledger evidence. The ledger records the erasure
    (this key as actor, the time, the reason) and still verifies; a keyed hash of the
    address stays on the suppression list so a later import does not bring it back."""
    ctx = get_ctx(request)
    report = erasure.erase_subject(ctx, body.email, reason=body.reason, actor=f"api-key:{key_id}")
    return ErasureOut(
        lists=report.lists,
        at=report.at.isoformat(),
        ledger_entries=report.ledger_entries,
        removed=report.removed,
        outbox_files=report.outbox_files,
        kept=report.lines()[-1],
    )
