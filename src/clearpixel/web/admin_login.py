"""The admin pages that need no session: the sign-in page and the static files. The
sign-in form's CSRF token is bound to a pre-session cookie; sign-in is rate-limited per
account and per address (`accounts.sessions`)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from clearpixel.accounts import csrf, sessions
from clearpixel.i18n import N_, normalise_locale
from clearpixel.web.admin_base import (
    LANG_COOKIE,
    PRE_COOKIE,
    SESSION_COOKIE,
    in_thread,
    render,
    say,
    say_n,
    secure,
)
from clearpixel.web.deps import get_ctx

STATIC = Path(__file__).parent / "static" / "admin"
MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/static/{name:path}")
def static_file(name: str) -> Response:
    """The admin's own assets (style, scripts, the vendored editor): nothing from elsewhere."""
    path = (STATIC / name).resolve()
    if STATIC.resolve() not in path.parents or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    media = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media, headers={"X-Content-Type-Options": "nosniff"})


def safe_next(target: str | None) -> str:
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return "/admin"


def _login_form(
    request: Request,
    nonce: str,
    target: str,
    *,
    error: str = "",
    status: int = 200,
    username: str = "",
) -> Response:
    """The sign-in page, its CSRF token bound to the pre-session cookie `nonce` (set again,
    HttpOnly, SameSite=Lax, Secure on https)."""
    ctx = get_ctx(request)
    response = render(
        request,
        "login.html",
        None,
        status_code=status,
        login_csrf=sessions.csrf_token(ctx, nonce),
        next=target,
        error=error,
        username=username,
    )
    response.set_cookie(
        PRE_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=secure(request, ctx),
        path="/admin",
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/admin", lang: str = "") -> Response:
    """The sign-in page; `lang` (the page's language switch) keeps the language chosen in a
    cookie and shows the page again in it."""
    if lang:
        chosen = normalise_locale(lang)
        response = RedirectResponse(
            f"/admin/login?next={quote(safe_next(next), safe='')}", status_code=303
        )
        if chosen:
            response.set_cookie(
                LANG_COOKIE,
                chosen,
                max_age=365 * 86400,
                httponly=True,
                samesite="lax",
                secure=secure(request, get_ctx(request)),
                path="/admin",
            )
        return response
    nonce = request.cookies.get(PRE_COOKIE) or csrf.new_nonce()
    return _login_form(request, nonce, safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    """Sign in with an email address (or `admin`, the first account) and a password."""
    ctx = get_ctx(request)
    form = await request.form()
    nonce = request.cookies.get(PRE_COOKIE)
    target = safe_next(str(form.get("next") or "/admin"))
    fresh = nonce or csrf.new_nonce()
    username = str(form.get("username") or "")[:320]

    def again(message: str, status: int) -> Response:
        return _login_form(request, fresh, target, error=message, status=status, username=username)

    if not sessions.csrf_ok(ctx, nonce, str(form.get("csrf") or "")):
        return again(say(request, N_("This form expired; please sign in again.")), 400)
    ip = request.client.host if request.client else "unknown"
    try:
        session = await in_thread(
            sessions.sign_in,
            ctx,
            username,
            str(form.get("password") or ""),
            ip=ip,
        )
    except sessions.LoginRateLimited as exc:
        message = say_n(
            request,
            "too many failed sign-ins from this network; try again in %(count)s second",
            "too many failed sign-ins from this network; try again in %(count)s seconds",
            exc.seconds,
        )
        return again(message, 429)
    except sessions.LoginRefused:
        return again(say(request, N_("wrong username or password")), 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        sessions.session_cookie(ctx, session),
        max_age=int(sessions.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure(request, ctx),
        path="/admin",
    )
    response.delete_cookie(PRE_COOKIE, path="/admin")
    return response
