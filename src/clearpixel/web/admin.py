"""Admin web UI under `/admin`: campaigns with their reports and charts, lists and contacts
with search, a contact's consent and proof, the consent dashboard, notices, and the
installation's settings with what they imply; users and accounts (`admin_users`).

Sessions are a signed cookie (HttpOnly, SameSite=Lax, Secure when served at an https base URL).
Every route but sign-in and the static files runs one guard (`admin_base.signed_in`): a live
session, a role allowed by `web.permissions`, and on a form this session's CSRF token.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from clearpixel.audience import contact_filters
from clearpixel.audience import contacts as contact_service
from clearpixel.audience import lists as list_service
from clearpixel.consent.history import PurposeState
from clearpixel.i18n import N_
from clearpixel.subjects.erasure import erase_subject
from clearpixel.web import (
    admin_campaigns,
    admin_import,
    admin_keys,
    admin_login,
    admin_pages,
    admin_settings,
    admin_users,
)
from clearpixel.web.admin_base import (
    MAX_ID,
    SECURITY_HEADERS,
    Refused,
    SessionDep,
    check_id,
    guarded_router,
    in_thread,
    locale_of,
    render,
    say,
)
from clearpixel.web.deps import get_ctx

PAGE_SIZE = 50

pages = guarded_router()


@pages.get("")
@pages.get("/")
def home(request: Request, session: SessionDep, archived: bool = False) -> Response:
    values = admin_pages.home(get_ctx(request), locale_of(request), archived=archived)
    return render(request, "home.html", session, **values)


@pages.get("/campaigns/{campaign_id}")
def campaign_page(request: Request, campaign_id: int, session: SessionDep) -> Response:
    values = admin_pages.campaign(get_ctx(request), check_id(campaign_id), locale_of(request))
    return render(request, "campaign.html", session, **values)


@pages.get("/lists")
def lists_page(request: Request, session: SessionDep) -> Response:
    found = list_service.all_lists(get_ctx(request))
    return render(request, "lists.html", session, lists=found, title=say(request, N_("Lists")))


@pages.post("/lists")
async def create_list(request: Request, session: SessionDep) -> Response:
    """Create a list (as `clearpixel lists create`)."""
    form = await request.form()
    created = await in_thread(
        list_service.create_list, get_ctx(request), str(form.get("name") or "")
    )
    return RedirectResponse(f"/admin/lists/{created.id}", status_code=303)


@pages.post("/lists/{list_id}/rename")
async def rename_list(request: Request, list_id: int, session: SessionDep) -> Response:
    form = await request.form()
    await in_thread(
        list_service.rename_list, get_ctx(request), check_id(list_id), str(form.get("name") or "")
    )
    return RedirectResponse("/admin/lists", status_code=303)


@pages.post("/lists/{list_id}/archive")
async def archive_list(request: Request, list_id: int, session: SessionDep) -> Response:
    """Archive a list, or restore it (`action=restore`)."""
    form = await request.form()
    archived = str(form.get("action") or "archive") != "restore"
    await in_thread(
        list_service.archive_list, get_ctx(request), check_id(list_id), archived=archived
    )
    return RedirectResponse("/admin/lists", status_code=303)


@pages.get("/lists/{list_id}")
def list_page(
    request: Request,
    list_id: int,
    session: SessionDep,
    q: str = "",
    status: str = "",
    purpose: str = "",
    state: str = "",
    after: int = 0,
) -> Response:
    """A list's contacts, searched by address and filtered by subscription status and by the
    consent state of one purpose, in pages."""
    ctx = get_ctx(request)
    q = q.replace("\x00", "")[:320]
    target = contact_service.get_list(ctx, check_id(list_id))
    wanted = contact_filters.parse_filter(
        ctx, search=q, status=status[:20], purpose=purpose[:64], state=state[:20]
    )
    found = contact_filters.filtered_page(
        ctx, list_id, wanted, after=min(max(after, 0), MAX_ID), limit=PAGE_SIZE
    )
    return render(
        request,
        "list.html",
        session,
        title=target.name,
        target=target,
        contacts=found.contacts,
        total=found.total,
        q=q,
        status=status,
        purpose=purpose,
        state=state,
        statuses=contact_filters.STATUSES,
        states=[s.value for s in PurposeState],
        next_after=found.next_after,
        purposes=ctx.purposes,
    )


@pages.get("/contacts/{contact_id}")
def contact_page(request: Request, contact_id: int, session: SessionDep) -> Response:
    values = admin_pages.contact(get_ctx(request), check_id(contact_id))
    return render(request, "contact.html", session, **values)


@pages.get("/contacts/{contact_id}/proof")
def contact_proof(
    request: Request, contact_id: int, session: SessionDep, format: str = "html"
) -> Response:
    body, media_type, filename = admin_pages.proof(get_ctx(request), check_id(contact_id), format)
    return Response(
        body,
        media_type=media_type,
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


@pages.post("/contacts/{contact_id}/decision")
async def contact_decision(request: Request, contact_id: int, session: SessionDep) -> Response:
    """Record a decision the contact made elsewhere (method `admin`), with evidence; the
    ledger's actor names the signed-in user."""
    form = await request.form()
    await in_thread(
        admin_pages.record_admin_decision,
        get_ctx(request),
        check_id(contact_id),
        grant=[str(v) for v in form.getlist("grant")],
        revoke=[str(v) for v in form.getlist("revoke")],
        evidence=str(form.get("evidence") or ""),
        actor=session.actor,
    )
    return RedirectResponse(f"/admin/contacts/{contact_id}", status_code=303)


@pages.post("/contacts/{contact_id}/erase")
async def erase_contact(request: Request, contact_id: int, session: SessionDep) -> Response:
    """Erase the contact's address from every list (admins only, with a reason; the address
    typed again to confirm), through the erasure service the CLI and the API call."""
    ctx = get_ctx(request)
    form = await request.form()
    found = contact_service.get_contact(ctx, check_id(contact_id))
    if str(form.get("confirm") or "").strip().lower() != found.email.lower():
        raise Refused(400, N_("The address typed does not match; nothing was erased."))
    report = await in_thread(
        erase_subject, ctx, found.email, reason=str(form.get("reason") or ""), actor=session.actor
    )
    title = say(request, N_("Erased"))
    return render(
        request, "erased.html", session, title=title, email=found.email, lines=report.lines()
    )


@pages.get("/consent")
def consent_page(request: Request, session: SessionDep) -> Response:
    return render(
        request,
        "consent.html",
        session,
        **admin_pages.consent(get_ctx(request), locale_of(request)),
    )


ROUTERS = (
    admin_login.router,
    admin_campaigns.router,
    admin_import.router,
    pages,
    admin_settings.router,
    admin_keys.router,
    admin_users.router,
)
router = APIRouter()
for part in ROUTERS:
    router.include_router(part)

__all__ = ["router"]
