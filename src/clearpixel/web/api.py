"""REST API under `/api/v1` (OpenAPI at `/api/v1/openapi.json`): lists, contacts, consent
decisions, the ledger. Every route needs an API key; errors share one body (`api_base`).

The only API path that changes `privacy_flags` is `POST /contacts/{id}/decisions` (and the bulk
form), which goes through `consent.record_decision(s)` with method `api` (R10).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from clearpixel.audience import contacts as contact_service
from clearpixel.audience import lists as list_service
from clearpixel.consent import record_decision
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.ledger import LedgerEntry, Method
from clearpixel.store.contacts import Contact
from clearpixel.web import api_bulk, api_campaigns, api_deliverability, api_signups, api_subjects
from clearpixel.web.api_base import (
    ERROR_RESPONSES,
    MAX_ID,
    ApiRoute,
    IdPath,
    KeyDep,
    PageDep,
    api_key,
)
from clearpixel.web.deps import get_ctx

router = APIRouter(
    prefix="/api/v1",
    route_class=ApiRoute,
    dependencies=[Depends(api_key)],
    responses=ERROR_RESPONSES,
)

Scalar = str | int | float | bool | None


class ListIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]+$")


class ListOut(BaseModel):
    id: int
    name: str
    contacts: int
    created_at: datetime


class ListPage(BaseModel):
    items: list[ListOut]
    next_cursor: str | None


class ContactIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    attributes: dict[str, Scalar] = Field(default_factory=dict)


class ContactPatch(BaseModel):
    attributes: dict[str, Scalar]
    replace: bool = Field(False, description="Replace all attributes instead of merging.")


class ContactOut(BaseModel):
    id: int
    list_id: int
    email: str
    attributes: dict[str, Any]
    privacy_flags: int | None = Field(description="NULL: never asked; 0: asked, nothing granted.")
    purposes: list[str] = Field(description="Purposes granted now.")
    consent: dict[str, str] | None = Field(
        None,
        description="Per purpose: never_asked, refused or granted, as every page states it "
        "(given for one contact, not in list pages).",
    )
    status: str
    created_at: datetime


class ContactPage(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None
    total: int


class DecisionIn(BaseModel):
    grant: list[str] = Field(default_factory=list, max_length=31)
    revoke: list[str] = Field(default_factory=list, max_length=31)
    basis: str = Field(
        min_length=1,
        max_length=1000,
        pattern=r"^[^\x00]*\S[^\x00]*$",
        description="What the decision rests on (e.g. 'the contact asked by phone, ticket 42').",
    )
    actor: str = Field(
        min_length=1,
        max_length=150,
        pattern=r"^[^\x00]*\S[^\x00]*$",
        description="Who made or recorded the decision (a person or system of yours).",
    )
    decided_by: Literal["contact", "operator"] = Field(
        description="`contact`: the contact's own choice, made where they are signed in to your "
        "systems (it may lift their earlier refusal); `operator`: your decision, which never "
        "grants what the contact refused themselves."
    )
    evidence: dict[str, Scalar] = Field(
        min_length=1, description="How the choice was collected, e.g. {'source': 'crm form'}."
    )
    notice_id: int | None = Field(None, ge=1, le=MAX_ID)
    notice_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class EntryOut(BaseModel):
    seq: int
    contact_id: int
    list_id: int
    email: str
    at: datetime
    method: str
    granted: list[str]
    revoked: list[str]
    flags_before: int | None
    flags_after: int
    actor: str
    notice_id: int | None
    notice_sha256: str | None
    evidence: dict[str, Any]
    prev_hash: str
    hash: str


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None


class DecisionOut(BaseModel):
    contact: ContactOut
    entries: list[EntryOut]
    withdrawn: bool = Field(description="Open-tracking consent was withdrawn by this decision.")
    skipped_refused_by_contact: list[str] = Field(
        default_factory=list,
        description="Purposes not granted: the contact refused or withdrew them themselves.",
    )


def contact_out(ctx: Context, contact: Contact, *, with_states: bool = False) -> ContactOut:
    return ContactOut(
        consent=contact_service.consent_states(ctx, contact) if with_states else None,
        id=contact.id,
        list_id=contact.list_id,
        email=contact.email,
        attributes=contact.attributes,
        privacy_flags=contact.privacy_flags,
        purposes=ctx.purposes.names_in(contact.privacy_flags),
        status=contact.status,
        created_at=contact.created_at,
    )


def entry_out(ctx: Context, entry: LedgerEntry) -> EntryOut:
    return EntryOut(
        seq=entry.seq,
        contact_id=entry.contact_id,
        list_id=entry.list_id,
        email=entry.email,
        at=entry.at,
        method=entry.method,
        granted=ctx.purposes.names_in(entry.granted),
        revoked=ctx.purposes.names_in(entry.revoked),
        flags_before=entry.flags_before,
        flags_after=entry.flags_after,
        actor=entry.actor,
        notice_id=entry.notice_id,
        notice_sha256=entry.notice_sha256,
        evidence=dict(entry.evidence),
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


# --- lists ------------------------------------------------------------------------------------


@router.get("/lists", response_model=ListPage, tags=["lists"])
def get_lists(request: Request, page: PageDep) -> ListPage:
    """Every audience list with its number of contacts, in id order."""
    found = sorted(list_service.all_lists(get_ctx(request)), key=lambda x: x.id)
    chosen = [x for x in found if x.id > page.after][: page.limit]
    return ListPage(
        items=[
            ListOut(id=x.id, name=x.name, contacts=x.contacts, created_at=x.created_at)
            for x in chosen
        ],
        next_cursor=page.next_cursor([x.id for x in chosen]),
    )


@router.post("/lists", response_model=ListOut, status_code=201, tags=["lists"])
def post_list(request: Request, body: ListIn) -> ListOut:
    """Create an audience list."""
    created = list_service.create_list(get_ctx(request), body.name)
    return ListOut(id=created.id, name=created.name, contacts=0, created_at=created.created_at)


@router.get("/lists/{list_id}", response_model=ListOut, tags=["lists"])
def get_list(request: Request, list_id: IdPath) -> ListOut:
    ctx = get_ctx(request)
    found = contact_service.get_list(ctx, list_id)
    count = contact_service.count_contacts(ctx, list_id)
    return ListOut(id=found.id, name=found.name, contacts=count, created_at=found.created_at)


# --- contacts ---------------------------------------------------------------------------------


@router.get("/lists/{list_id}/contacts", response_model=ContactPage, tags=["contacts"])
def get_contacts(
    request: Request,
    list_id: IdPath,
    page: PageDep,
    search: Annotated[str, Query(max_length=320, description="Part of the email address.")] = "",
) -> ContactPage:
    """A page of the list's contacts in id order, optionally filtered by part of the email."""
    ctx = get_ctx(request)
    search = search.replace("\x00", "")
    found = contact_service.contacts_page(
        ctx, list_id, after=page.after, limit=page.limit, search=search
    )
    return ContactPage(
        items=[contact_out(ctx, c) for c in found],
        next_cursor=page.next_cursor([c.id for c in found]),
        total=contact_service.count_contacts(ctx, list_id, search=search),
    )


@router.post(
    "/lists/{list_id}/contacts", response_model=ContactOut, status_code=201, tags=["contacts"]
)
def post_contact(request: Request, body: ContactIn, list_id: IdPath) -> ContactOut:
    """Add a contact. Its flags start NULL (never asked); consent is recorded with
    `POST /contacts/{id}/decisions`, never here."""
    ctx = get_ctx(request)
    return contact_out(
        ctx, contact_service.create_contact(ctx, list_id, body.email, body.attributes)
    )


@router.get("/contacts/{contact_id}", response_model=ContactOut, tags=["contacts"])
def get_contact(request: Request, contact_id: IdPath) -> ContactOut:
    ctx = get_ctx(request)
    return contact_out(ctx, contact_service.get_contact(ctx, contact_id), with_states=True)


@router.patch("/contacts/{contact_id}", response_model=ContactOut, tags=["contacts"])
def patch_contact(request: Request, body: ContactPatch, contact_id: IdPath) -> ContactOut:
    """Update attributes (merge by default; a null value removes one). Flags cannot change here."""
    ctx = get_ctx(request)
    updated = contact_service.update_attributes(
        ctx, contact_id, body.attributes, replace=body.replace
    )
    return contact_out(ctx, updated)


@router.get("/contacts/{contact_id}/history", response_model=list[EntryOut], tags=["consent"])
def get_history(request: Request, contact_id: IdPath) -> list[EntryOut]:
    """The contact's ledger entries, oldest first."""
    ctx = get_ctx(request)
    contact_service.get_contact(ctx, contact_id)
    return [entry_out(ctx, e) for e in contact_service.history(ctx, contact_id)]


# --- consent decisions ------------------------------------------------------------------------


@router.post(
    "/contacts/{contact_id}/decisions",
    response_model=DecisionOut,
    status_code=201,
    tags=["consent"],
)
def post_decision(
    request: Request,
    body: DecisionIn,
    contact_id: IdPath,
    key_id: KeyDep,
) -> DecisionOut:
    """Record a consent decision with its basis, actor and evidence: purposes granted and
    revoked. The contact's own choice (`decided_by: contact`, method `api_contact`) may lift
    their earlier refusal; an operator's (method `api`) never grants a purpose the contact
    refused or withdrew themselves: it is skipped and listed in `skipped_refused_by_contact`
    (R19). One ledger entry and the new flags are written in one transaction; a withdrawal of
    open tracking forgets the contact's personal events (R5, R10)."""
    ctx = get_ctx(request)
    if not body.grant and not body.revoke:
        raise ClearpixelError("a decision grants or revokes at least one purpose")
    contact_service.check_attributes(body.evidence)
    result = record_decision(
        ctx.db,
        contact_id,
        granted=ctx.purposes.mask(body.grant),
        revoked=ctx.purposes.mask(body.revoke),
        method=Method.API_CONTACT if body.decided_by == "contact" else Method.API,
        now=ctx.now(),
        cooldown=ctx.cooldown,
        actor=f"api-key:{key_id}:{body.actor.strip()}",
        notice_id=body.notice_id,
        notice_sha256=body.notice_sha256,
        evidence={
            "channel": "api",
            **body.evidence,
            "basis": body.basis.strip(),
            "decided_by": body.decided_by,
        },
    )
    return DecisionOut(
        contact=contact_out(ctx, contact_service.get_contact(ctx, contact_id), with_states=True),
        entries=[entry_out(ctx, e) for e in result.entries],
        withdrawn=contact_id in result.withdrawn,
        skipped_refused_by_contact=ctx.purposes.names_in(result.skipped_refused.get(contact_id, 0)),
    )


# --- ledger -----------------------------------------------------------------------------------


@router.get("/ledger", response_model=EntryPage, tags=["ledger"])
def get_ledger(request: Request, page: PageDep) -> EntryPage:
    """Ledger export in chain order, a page at a time (cursor: the last seq)."""
    ctx = get_ctx(request)
    found = contact_service.ledger_page(ctx, after=page.after, limit=page.limit)
    return EntryPage(
        items=[entry_out(ctx, e) for e in found],
        next_cursor=page.next_cursor([e.seq for e in found]),
    )


router.include_router(api_bulk.router)
router.include_router(api_signups.router)
router.include_router(api_campaigns.router)
router.include_router(api_deliverability.router)
router.include_router(api_subjects.router)
