"""REST API for data-subject requests. The address travels in the request body, never in a
URL, so access logs do not collect it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from clearpixel.subjects import access
from clearpixel.web.api_base import ApiRoute
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
