"""Admin web UI under `/admin`: sign-in, campaigns with their reports and charts, lists and
contacts with search, a contact's consent and proof, the consent dashboard, notices, and the
installation's settings read-only with what they imply.

Sessions are a signed cookie (HttpOnly, SameSite=Lax, Secure when served at an https base URL);
every form carries a CSRF token bound to the session, or to a pre-session nonce for sign-in.
Sign-in is rate-limited per account and per address (`audience.access`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from clearpixel.audience import access
from clearpixel.audience import contacts as contact_service
from clearpixel.audience import lists as list_service
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError, NotFound
from clearpixel.web import admin_pages
from clearpixel.web.deps import get_ctx

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates" / "admin"))
STATIC = Path(__file__).parent / "static" / "admin"
SESSION_COOKIE = "cp_admin"
PRE_COOKIE = "cp_pre"
PAGE_SIZE = 50
MAX_ID = 2**31 - 1  # ids are 32-bit integers: a larger one names nothing (404, not 500)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

router = APIRouter(prefix="/admin", include_in_schema=False)


# --- sessions, CSRF, rendering ----------------------------------------------------------------


def _secure(request: Request, ctx: Context) -> bool:
    """Secure cookies when the admin is served over https or at the https base URL's host."""
    base = urlsplit(ctx.settings.base_url)
    same_host = base.hostname == request.url.hostname
    return request.url.scheme == "https" or (base.scheme == "https" and same_host)


def _session(request: Request) -> access.Session | None:
    return access.read_session(get_ctx(request), request.cookies.get(SESSION_COOKIE))


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/admin/login?next={quote(target, safe='')}", status_code=303)


def _render(
    request: Request,
    template: str,
    session: access.Session | None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    ctx = get_ctx(request)
    values.setdefault("title", "")
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "session": session,
            "csrf": access.csrf_token(ctx, session.nonce) if session else "",
            "policy": ctx.policy,
            "organisation": ctx.settings.organisation,
            **values,
        },
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )
    return response


def _form_ok(request: Request, session: access.Session, form: Any) -> bool:
    return access.csrf_ok(get_ctx(request), session.nonce, form.get("csrf"))


def _problem(request: Request, session: access.Session, status: int, message: str) -> Response:
    return _render(request, "message.html", session, status_code=status, message=message)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return "/admin"


# --- sign-in ----------------------------------------------------------------------------------


@router.get("/static/admin.css")
def stylesheet() -> FileResponse:
    return FileResponse(STATIC / "admin.css", media_type="text/css; charset=utf-8")


def _login_form(
    request: Request, nonce: str, target: str, *, error: str = "", status: int = 200
) -> Response:
    """The sign-in page, its CSRF token bound to the pre-session cookie `nonce` (set again,
    HttpOnly, SameSite=Lax, Secure on https)."""
    ctx = get_ctx(request)
    response = _render(
        request,
        "login.html",
        None,
        status_code=status,
        login_csrf=access.csrf_token(ctx, nonce),
        next=target,
        error=error,
    )
    response.set_cookie(
        PRE_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request, ctx),
        path="/admin",
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/admin") -> Response:
    nonce = request.cookies.get(PRE_COOKIE) or access.new_nonce()
    return _login_form(request, nonce, _safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    ctx = get_ctx(request)
    form = await request.form()
    nonce = request.cookies.get(PRE_COOKIE)
    target = _safe_next(str(form.get("next") or "/admin"))
    fresh = nonce or access.new_nonce()

    def again(message: str, status: int) -> Response:
        return _login_form(request, fresh, target, error=message, status=status)

    if not access.csrf_ok(ctx, nonce, str(form.get("csrf") or "")):
        return again("This form expired; please sign in again.", 400)
    ip = request.client.host if request.client else "unknown"
    try:
        session = await _in_thread(
            access.sign_in,
            ctx,
            str(form.get("username") or ""),
            str(form.get("password") or ""),
            ip=ip,
        )
    except access.LoginRateLimited as exc:
        return again(str(exc), 429)
    except access.LoginRefused as exc:
        return again(str(exc), 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        access.session_cookie(ctx, session),
        max_age=int(access.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request, ctx),
        path="/admin",
    )
    response.delete_cookie(PRE_COOKIE, path="/admin")
    return response


async def _in_thread(func: Any, *args: Any, **kwargs: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(func, *args, **kwargs)


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = _session(request)
    form = await request.form()
    if session is None:
        return _to_login(request)
    if not _form_ok(request, session, form):
        return _problem(request, session, 400, "This form expired; reload the page.")
    await _in_thread(access.sign_out, get_ctx(request), session)
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


@router.post("/password")
async def change_password(request: Request) -> Response:
    """Change the admin password (the current one first); every other session ends."""
    session = _session(request)
    if session is None:
        return _to_login(request)
    form = await request.form()
    if not _form_ok(request, session, form):
        return _problem(request, session, 400, "This form expired; reload the page.")
    new = str(form.get("new_password") or "")
    if new != str(form.get("confirm_password") or ""):
        return _problem(request, session, 400, "The two new passwords differ; nothing changed.")
    try:
        ended = await _in_thread(
            access.change_password,
            get_ctx(request),
            session,
            str(form.get("current_password") or ""),
            new,
        )
    except ClearpixelError as exc:
        return _problem(request, session, 400, f"{exc}; nothing changed.")
    others = f"{ended} other session{'s' if ended != 1 else ''}"
    return _problem(request, session, 200, f"Password changed; {others} signed out.")


# --- pages ------------------------------------------------------------------------------------


@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    ctx = get_ctx(request)
    return _render(request, "home.html", session, **admin_pages.home(ctx))


@router.get("/campaigns/{campaign_id}")
def campaign_page(request: Request, campaign_id: int) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    if not 1 <= campaign_id <= MAX_ID:
        return _problem(request, session, 404, "Not found.")
    try:
        values = admin_pages.campaign(get_ctx(request), campaign_id)
    except NotFound as exc:
        return _problem(request, session, 404, str(exc))
    return _render(request, "campaign.html", session, **values)


@router.get("/lists")
def lists_page(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    found = list_service.all_lists(get_ctx(request))
    return _render(request, "lists.html", session, lists=found, title="Lists")


@router.get("/lists/{list_id}")
def list_page(request: Request, list_id: int, q: str = "", after: int = 0) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    if not 1 <= list_id <= MAX_ID:
        return _problem(request, session, 404, "Not found.")
    ctx = get_ctx(request)
    q = q.replace("\x00", "")[:320]
    try:
        target = contact_service.get_list(ctx, list_id)
        found = contact_service.contacts_page(
            ctx, list_id, after=min(max(after, 0), MAX_ID), limit=PAGE_SIZE, search=q
        )
        total = contact_service.count_contacts(ctx, list_id, search=q)
    except NotFound as exc:
        return _problem(request, session, 404, str(exc))
    return _render(
        request,
        "list.html",
        session,
        title=target.name,
        target=target,
        contacts=found,
        total=total,
        q=q,
        next_after=found[-1].id if len(found) == PAGE_SIZE else None,
        purposes=ctx.purposes,
    )


@router.get("/contacts/{contact_id}")
def contact_page(request: Request, contact_id: int) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    if not 1 <= contact_id <= MAX_ID:
        return _problem(request, session, 404, "Not found.")
    try:
        values = admin_pages.contact(get_ctx(request), contact_id)
    except NotFound as exc:
        return _problem(request, session, 404, str(exc))
    return _render(request, "contact.html", session, **values)


@router.get("/contacts/{contact_id}/proof")
def contact_proof(request: Request, contact_id: int, format: str = "html") -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    if not 1 <= contact_id <= MAX_ID:
        return _problem(request, session, 404, "Not found.")
    try:
        body, media_type, filename = admin_pages.proof(get_ctx(request), contact_id, format)
    except NotFound as exc:
        return _problem(request, session, 404, str(exc))
    except ClearpixelError as exc:
        return _problem(request, session, 400, str(exc))
    return Response(
        body,
        media_type=media_type,
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


@router.post("/contacts/{contact_id}/decision")
async def contact_decision(request: Request, contact_id: int) -> Response:
    """An admin records a decision the contact made elsewhere (method `admin`), with evidence."""
    session = _session(request)
    if session is None:
        return _to_login(request)
    if not 1 <= contact_id <= MAX_ID:
        return _problem(request, session, 404, "Not found.")
    form = await request.form()
    if not _form_ok(request, session, form):
        return _problem(request, session, 400, "This form expired; reload the page.")
    ctx = get_ctx(request)
    try:
        await _in_thread(
            admin_pages.record_admin_decision,
            ctx,
            contact_id,
            grant=[str(v) for v in form.getlist("grant")],
            revoke=[str(v) for v in form.getlist("revoke")],
            evidence=str(form.get("evidence") or ""),
            actor=f"admin:{session.username}",
        )
    except NotFound as exc:
        return _problem(request, session, 404, str(exc))
    except ClearpixelError as exc:
        return _problem(request, session, 400, str(exc))
    return RedirectResponse(f"/admin/contacts/{contact_id}", status_code=303)


@router.get("/consent")
def consent_page(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    return _render(request, "consent.html", session, **admin_pages.consent(get_ctx(request)))


@router.get("/notices")
def notices_page(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    return _render(request, "notices.html", session, **admin_pages.notices(get_ctx(request)))


@router.get("/settings")
def settings_page(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    return _render(request, "settings.html", session, **admin_pages.settings(get_ctx(request)))
