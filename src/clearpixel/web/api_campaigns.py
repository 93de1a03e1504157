"""REST API: campaigns — create (template checked and proved), preview one recipient's exact
message, send to the outbox folder, schedule for `clearpixel serve` to start, cancel, delete
a draft, archive and restore, and the report read from counters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from clearpixel.audience import contacts as contact_service
from clearpixel.reports.campaign import campaign_report
from clearpixel.reports.deliverability import deliverability_figures
from clearpixel.sending import campaigns as sending
from clearpixel.sending import schedule
from clearpixel.sending.transports import OutboxTransport
from clearpixel.store.campaigns import Campaign
from clearpixel.web.api_base import ApiRoute, IdPath, Page
from clearpixel.web.deps import get_ctx

# Included by `api.router`, which adds the prefix, the key check and the error responses.
router = APIRouter(route_class=ApiRoute, tags=["campaigns"])
NoNul = r"^[^\x00]*$"


class CampaignIn(BaseModel):
    list_id: int = Field(ge=1, le=2**31 - 1)
    kind: Literal["marketing", "transactional", "security", "consent_request"]
    subject: str = Field(min_length=1, max_length=998, pattern=NoNul)
    html: str = Field(min_length=1, max_length=2_000_000, pattern=NoNul)
    text: str | None = Field(None, max_length=2_000_000, pattern=NoNul)
    from_addr: str | None = Field(None, max_length=320, pattern=NoNul)
    name: str | None = Field(None, max_length=200, pattern=NoNul)


class CampaignOut(BaseModel):
    id: int
    public_id: str
    list_id: int
    list_name: str
    name: str
    kind: str
    subject: str
    status: str
    status_detail: str | None = None
    recipients: dict[str, int] = Field(
        default_factory=dict, description="Recipients by outcome: sent, failed, skipped, pending."
    )
    untracked_links: list[str] = Field(
        default_factory=list,
        description="Links that depend on the recipient, left untracked (at create only).",
    )
    created_at: datetime
    scheduled_at: datetime | None = Field(None, description="When `serve` starts it (UTC).")
    archived_at: datetime | None = None


class ScheduleIn(BaseModel):
    at: datetime = Field(
        description="When to start, with its offset (e.g. 2026-12-01T09:00:00+01:00); "
        "a time without one is read in the installation's zone (CLEARPIXEL_TIMEZONE)."
    )


class CampaignPage(BaseModel):
    items: list[CampaignOut]
    next_cursor: str | None


class PreviewIn(BaseModel):
    email: str = Field(min_length=3, max_length=320, pattern=NoNul)


class PreviewOut(BaseModel):
    email: str
    mime: str = Field(description="The exact RFC 5322 message this recipient would get now.")


class SendOut(BaseModel):
    campaign_id: int
    recorded: int
    sent: int
    failed: int
    deferred: int
    skipped: int
    skipped_by_reason: dict[str, int] = Field(
        description="Recipients not sent to, by reason (unsubscribed, already consents, ...)."
    )
    by_status: dict[str, int]
    status: str
    status_detail: str | None
    failures: list[dict[str, str]] = Field(description="The first failed recipients, with why.")
    outbox: str


def campaign_out(found: Campaign, recipients: dict[str, int] | None = None) -> CampaignOut:
    return CampaignOut(
        id=found.id,
        public_id=found.public_id,
        list_id=found.list_id,
        list_name=found.list_name,
        name=found.name,
        kind=found.kind,
        subject=found.subject,
        status=found.status,
        status_detail=found.status_detail,
        recipients=recipients or {},
        untracked_links=list(found.untracked_links),
        created_at=found.created_at,
        scheduled_at=found.scheduled_at,
        archived_at=found.archived_at,
    )


@router.get("/campaigns", response_model=CampaignPage)
def get_campaigns(
    request: Request, page: Annotated[Page, Depends()], archived: bool = False
) -> CampaignPage:
    """Campaigns in id order: those not archived, or with `archived=true` the archived ones."""
    ctx = get_ctx(request)
    found = [c for c in sending.all_campaigns(ctx, archived=archived) if c.id > page.after]
    counts = sending.send_counts(ctx)
    chosen = sorted(found, key=lambda c: c.id)[: page.limit]
    return CampaignPage(
        items=[campaign_out(c, counts.get(c.id)) for c in chosen],
        next_cursor=page.next_cursor([c.id for c in chosen]),
    )


@router.post("/campaigns", response_model=CampaignOut, status_code=201)
def post_campaign(request: Request, body: CampaignIn) -> CampaignOut:
    """Create a campaign. Its template is checked: unknown variables, refused links, and
    (marketing, consent requests) anything a mail client loads by itself that would differ
    from one recipient to another are refused, with the reason."""
    ctx = get_ctx(request)
    target = contact_service.get_list(ctx, body.list_id)
    created = sending.create_campaign(
        ctx,
        list_name=target.name,
        kind=body.kind,
        subject=body.subject,
        html=body.html,
        text=body.text,
        from_addr=body.from_addr,
        name=body.name,
    )
    return campaign_out(created)


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
def get_campaign(request: Request, campaign_id: IdPath) -> CampaignOut:
    ctx = get_ctx(request)
    found = sending.get_campaign(ctx, campaign_id)
    return campaign_out(found, sending.send_counts(ctx).get(found.id))


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignOut)
def post_cancel(request: Request, campaign_id: IdPath) -> CampaignOut:
    """Stop a campaign being sent; the sender stops after the messages in flight. Sending it
    again resumes it."""
    return campaign_out(sending.cancel_campaign(get_ctx(request), campaign_id))


@router.post("/campaigns/{campaign_id}/schedule", response_model=CampaignOut)
def post_schedule(request: Request, body: ScheduleIn, campaign_id: IdPath) -> CampaignOut:
    """Schedule a draft (or move a scheduled campaign): a running `clearpixel serve` starts
    it at that time, with its template, suppression and consent checked then. A time in the
    past is refused."""
    ctx = get_ctx(request)
    at = body.at if body.at.tzinfo else body.at.replace(tzinfo=ctx.settings.zone)
    return campaign_out(schedule.schedule_campaign(ctx, campaign_id, at))


@router.post("/campaigns/{campaign_id}/unschedule", response_model=CampaignOut)
def post_unschedule(request: Request, campaign_id: IdPath) -> CampaignOut:
    """Make a scheduled campaign a draft again."""
    return campaign_out(schedule.unschedule_campaign(get_ctx(request), campaign_id))


@router.post("/campaigns/{campaign_id}/archive", response_model=CampaignOut)
def post_archive(request: Request, campaign_id: IdPath) -> CampaignOut:
    """Archive a sent or cancelled campaign: it leaves the default list; its report stays."""
    return campaign_out(sending.archive_campaign(get_ctx(request), campaign_id))


@router.post("/campaigns/{campaign_id}/restore", response_model=CampaignOut)
def post_restore(request: Request, campaign_id: IdPath) -> CampaignOut:
    """Bring an archived campaign back into the default list."""
    return campaign_out(sending.archive_campaign(get_ctx(request), campaign_id, archived=False))


@router.delete("/campaigns/{campaign_id}", status_code=204)
def delete_campaign(request: Request, campaign_id: IdPath) -> Response:
    """Delete a draft (a campaign never sent); any other status is refused."""
    sending.delete_campaign(get_ctx(request), campaign_id)
    return Response(status_code=204)


@router.post("/campaigns/{campaign_id}/preview", response_model=PreviewOut)
def post_preview(request: Request, body: PreviewIn, campaign_id: IdPath) -> PreviewOut:
    """The exact message one contact of the campaign's list would get now (nothing is sent)."""
    data = sending.preview(get_ctx(request), campaign_id, body.email)
    return PreviewOut(email=body.email, mime=data.decode("utf-8", "replace"))


@router.post("/campaigns/{campaign_id}/send", response_model=SendOut)
def post_send(request: Request, campaign_id: IdPath) -> SendOut:
    """Send to the outbox folder (`DATA_DIR/outbox/<public id>`), one .eml per recipient.
    Safe to call again: recipients already sent are not sent twice."""
    ctx = get_ctx(request)
    found = sending.get_campaign(ctx, campaign_id)
    outbox = ctx.settings.data_dir / "outbox" / found.public_id
    report = sending.send_campaign(ctx, found.id, OutboxTransport(outbox))
    return SendOut(
        campaign_id=found.id,
        recorded=report.recorded,
        sent=report.sent,
        failed=report.failed,
        deferred=report.deferred,
        skipped=report.skipped,
        skipped_by_reason=report.skipped_by_reason,
        by_status=report.by_status,
        status=report.status,
        status_detail=report.status_detail,
        failures=[{"email": e, "reason": r} for e, r in report.failures],
        outbox=str(outbox),
    )


@router.get("/campaigns/{campaign_id}/report", response_model=dict[str, Any])
def get_report(request: Request, campaign_id: IdPath) -> dict[str, Any]:
    """The campaign report from counters; every figure names its population."""
    ctx = get_ctx(request)
    found = sending.get_campaign(ctx, campaign_id)
    return campaign_report(ctx, str(found.id)).to_dict()


@router.get("/campaigns/{campaign_id}/deliverability", response_model=dict[str, Any])
def get_deliverability(request: Request, campaign_id: IdPath) -> dict[str, Any]:
    """Hard and soft bounces and complaints with their rates, and skips by reason."""
    ctx = get_ctx(request)
    found = sending.get_campaign(ctx, campaign_id)
    return deliverability_figures(ctx, found.id).to_dict()
