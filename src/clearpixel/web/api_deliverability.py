"""REST API: the suppression list (list, add, remove with an actor and a reason, export) and
outgoing webhook endpoints (register, list, remove, delivery log)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from clearpixel.deliverability import suppression, webhooks
from clearpixel.store.suppression import Suppression
from clearpixel.web.api_base import ApiRoute, IdPath, KeyDep
from clearpixel.web.deps import get_ctx

# Included by `api.router`, which adds the prefix, the key check and the error responses.
router = APIRouter(route_class=ApiRoute, tags=["deliverability"])
NoNul = r"^[^\x00]*$"


class SuppressionOut(BaseModel):
    address: str
    reason: str
    since: datetime
    actor: str
    evidence: dict[str, Any]


class SuppressionPage(BaseModel):
    items: list[SuppressionOut]
    next_cursor: str | None


class SuppressionIn(BaseModel):
    email: str = Field(min_length=3, max_length=320, pattern=NoNul)
    reason: str = Field("manual", max_length=32, pattern=NoNul)
    note: str = Field("", max_length=1000, pattern=NoNul)


class RemovalIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200, pattern=NoNul)


class EndpointIn(BaseModel):
    url: str = Field(min_length=8, max_length=2000, pattern=NoNul)
    events: list[str] = Field(min_length=1, max_length=10)


class EndpointOut(BaseModel):
    id: int
    url: str
    events: list[str]
    created_at: datetime
    secret: str | None = Field(None, description="Shown once, when the endpoint is created.")


class AttemptOut(BaseModel):
    delivery_id: int
    event_type: str
    at: datetime
    status_code: int | None
    error: str | None
    delivery_status: str


def _out(s: Suppression) -> SuppressionOut:
    return SuppressionOut(
        address=s.address, reason=s.reason, since=s.since, actor=s.actor, evidence=s.evidence
    )


@router.get("/suppressions", response_model=SuppressionPage)
def get_suppressions(
    request: Request,
    reason: str | None = Query(None, max_length=32),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str = Query("", max_length=320, description="`next_cursor` of the previous page."),
) -> SuppressionPage:
    """Suppressed addresses in address order."""
    found = suppression.listing(get_ctx(request), reason=reason, after=cursor.lower(), limit=limit)
    return SuppressionPage(
        items=[_out(s) for s in found],
        next_cursor=found[-1].address if len(found) == limit else None,
    )


@router.post("/suppressions", response_model=SuppressionOut, status_code=201)
def post_suppression(request: Request, body: SuppressionIn, key_id: KeyDep) -> SuppressionOut:
    """Suppress an address (an address already listed keeps its first reason)."""
    ctx = get_ctx(request)
    suppression.add(ctx, body.email, reason=body.reason, actor=f"api:key{key_id}", note=body.note)
    found = suppression.lookup(ctx, body.email)
    assert found is not None
    return _out(found)


@router.get("/suppressions/export", response_class=StreamingResponse)
def export_suppressions(
    request: Request, reason: str | None = Query(None, max_length=32, pattern=r"^[a-z_]+$")
) -> StreamingResponse:
    """The whole list (or the addresses of one reason) as CSV."""
    return StreamingResponse(
        suppression.export_csv(get_ctx(request), reason=reason),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="suppressions.csv"'},
    )


@router.post("/suppressions/{email}/remove", status_code=204)
def remove_suppression(request: Request, email: str, body: RemovalIn, key_id: KeyDep) -> None:
    """Take an address off the list; logged with the API key as actor and the reason."""
    suppression.remove(get_ctx(request), email, actor=f"api:key{key_id}", reason=body.reason)


@router.get("/webhooks", response_model=list[EndpointOut])
def get_webhooks(
    request: Request, event: str | None = Query(None, max_length=40, pattern=r"^[a-z_.]+$")
) -> list[EndpointOut]:
    """Registered endpoints (those subscribed to `event`, when given)."""
    return [
        EndpointOut(id=e.id, url=e.url, events=e.events, created_at=e.created_at, secret=None)
        for e in webhooks.endpoints(get_ctx(request))
        if event is None or event in e.events
    ]


@router.post("/webhooks", response_model=EndpointOut, status_code=201)
def post_webhook(request: Request, body: EndpointIn) -> EndpointOut:
    """Register an endpoint; the answer carries its signing secret, shown only this once."""
    e = webhooks.add_endpoint(get_ctx(request), body.url, body.events)
    return EndpointOut(
        id=e.id, url=e.url, events=e.events, created_at=e.created_at, secret=e.secret
    )


@router.delete("/webhooks/{endpoint_id}", status_code=204)
def delete_webhook(request: Request, endpoint_id: IdPath) -> None:
    webhooks.remove_endpoint(get_ctx(request), endpoint_id)


@router.get("/webhooks/{endpoint_id}/log", response_model=list[AttemptOut])
def get_webhook_log(
    request: Request, endpoint_id: IdPath, limit: int = Query(100, ge=1, le=1000)
) -> list[AttemptOut]:
    """Delivery attempts to this endpoint, newest first."""
    return [
        AttemptOut(
            delivery_id=a.delivery_id,
            event_type=a.event_type,
            at=a.at,
            status_code=a.status_code,
            error=a.error,
            delivery_status=a.delivery_status,
        )
        for a in webhooks.delivery_log(get_ctx(request), endpoint_id, limit=limit)
    ]
