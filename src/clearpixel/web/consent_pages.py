"""Public consent pages: consent page, preference page, unsubscribe (the signup form and its
confirmation are in `signup_pages`).

Thin handlers: read the request, call the consent services in a worker thread (they commit
before the response, R5), render a template in the person's language. GET never changes
consent (R9); errors become a clear page with a 4xx status, never a trace, and the same page
for a forged link and an unknown contact.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from clearpixel.consent import pages, preferences, signups
from clearpixel.consent.evidence import web_evidence
from clearpixel.consent.i18n import N_, choose_locale, environment, gettext_for, normalise_locale
from clearpixel.consent.links import InvalidLink
from clearpixel.consent.pages import CsrfRejected
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.tokens import Token, TokenKind
from clearpixel.domain.urls import preferences_path
from clearpixel.store.contacts import Contact
from clearpixel.web.deps import get_ctx

TEMPLATES = str(Path(__file__).parent / "templates" / "public")
STATIC = Path(__file__).parent / "static"
ASSETS = {
    "public.css": "text/css; charset=utf-8",
    "preferences.js": "text/javascript",
    "consent.js": "text/javascript",
}
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}

router = APIRouter(include_in_schema=False)
logger = logging.getLogger(__name__)


def _request_locale(request: Request, contact: Contact | None = None) -> str:
    asked = normalise_locale(request.query_params.get("lang", ""))
    if asked and contact is None:
        return asked
    return choose_locale(
        contact.locale if contact else "", request.headers.get("accept-language", "")
    )


def _render(
    request: Request, ctx: Context, template: str, locale: str, status: int = 200, **values: Any
) -> HTMLResponse:
    env = environment(locale, TEMPLATES)
    html = env.get_template(template).render(
        organisation=ctx.settings.organisation,
        privacy_policy_url=ctx.settings.privacy_policy_url,
        **values,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _message(
    request: Request, ctx: Context, locale: str, status: int, title: str, text: str
) -> HTMLResponse:
    _ = gettext_for(locale)
    return _render(request, ctx, "message.html", locale, status, title=_(title), text=_(text))


def _link_problem(request: Request, ctx: Context, exc: InvalidLink) -> HTMLResponse:
    locale = _request_locale(request)
    if exc.expired:
        return _message(
            request,
            ctx,
            locale,
            410,
            N_("This link has expired"),
            N_(
                "Nothing was changed. The link at the bottom of our most recent email always works."
            ),
        )
    return _message(
        request,
        ctx,
        locale,
        400,
        N_("This link is not valid"),
        N_("Nothing was changed. Please use the link exactly as it appears in our email."),
    )


def _csrf_problem(request: Request, ctx: Context, locale: str) -> HTMLResponse:
    return _message(
        request,
        ctx,
        locale,
        403,
        N_("This form has expired"),
        N_("Nothing was changed. Please open the link from the email again."),
    )


def _evidence(request: Request, token: str | None = None) -> dict[str, Any]:
    """Truncated IP, user agent, and the page; a token in the URL is replaced by its digest,
    so the ledger never holds a working link."""
    url = str(request.url.replace(query=""))
    if token:
        digest = hashlib.sha256(token.encode()).hexdigest()[:16]
        url = url.replace(token, f"{{link {digest}}}")
    return web_evidence(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        page_url=url,
    )


async def _form(request: Request) -> dict[str, list[str]]:
    data = await request.form()
    out: dict[str, list[str]] = {}
    for key, value in data.multi_items():
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return out


def _one(form: dict[str, list[str]], key: str) -> str:
    values = form.get(key)
    return values[0] if values else ""


def _notice_ids(form: dict[str, list[str]]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for key, values in form.items():
        if key.startswith("notice_") and values and values[0].isdigit():
            ids[key.removeprefix("notice_")] = int(values[0])
    return ids


def _preferences_url(ctx: Context, contact_id: int, *, change: bool = True) -> str:
    token = ctx.signer.sign(Token(kind=TokenKind.PREFERENCES, contact_id=contact_id))
    return preferences_path(token) + ("?change=1" if change else "")


# --- static assets of the public pages --------------------------------------------------------


@router.get("/public/{name}")
def public_asset(name: str) -> Response:
    if name not in ASSETS:
        return Response("not found", status_code=404, media_type="text/plain")
    body = (STATIC / name).read_bytes()
    return Response(body, media_type=ASSETS[name], headers={"Cache-Control": "max-age=3600"})


# --- consent page ----------------------------------------------------------------------------


@router.get("/consent/{token}")
async def consent_page(request: Request, token: str) -> Response:
    ctx = get_ctx(request)
    try:
        page = await run_in_threadpool(
            lambda: pages.open_consent_page(
                ctx, token, locale_of=lambda c: _request_locale(request, c)
            )
        )
    except InvalidLink as exc:
        return _link_problem(request, ctx, exc)
    locale = _request_locale(request, page.contact)
    return _render(
        request,
        ctx,
        "consent.html",
        locale,
        page=page,
        outcome=page.outcome,
        preferences_url=_preferences_url(ctx, page.contact.id),
    )


@router.post("/consent/{token}/seen")
async def consent_seen(request: Request, token: str) -> Response:
    """The page's script: a browser showed the request to someone (changes no consent)."""
    ctx = get_ctx(request)
    data = await _form(request)
    notice = _one(data, "notice_id")
    try:
        await run_in_threadpool(
            lambda: pages.note_view(
                ctx,
                token,
                nonce=_one(data, "nonce"),
                csrf_token=_one(data, "csrf"),
                notice_id=int(notice) if notice.isdigit() else None,
                ip=request.client.host if request.client else "",
                user_agent=request.headers.get("user-agent", ""),
            )
        )
    except InvalidLink:
        return Response(status_code=400)
    except CsrfRejected:
        return Response(status_code=403)
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


@router.post("/consent/{token}")
async def consent_answer(request: Request, token: str) -> Response:
    ctx = get_ctx(request)
    data = await _form(request)
    choice = _one(data, "choice")
    notice = _one(data, "notice_id")
    try:
        if choice not in ("accept", "refuse"):
            raise CsrfRejected("no choice")
        answer = await run_in_threadpool(
            lambda: pages.answer_consent_page(
                ctx,
                token,
                accept=choice == "accept",
                nonce=_one(data, "nonce"),
                csrf_token=_one(data, "csrf"),
                notice_id=int(notice) if notice.isdigit() else None,
                evidence=_evidence(request, token),
            )
        )
    except InvalidLink as exc:
        return _link_problem(request, ctx, exc)
    except CsrfRejected:
        return _csrf_problem(request, ctx, _request_locale(request))
    locale = _request_locale(request, answer.contact)
    return _render(
        request,
        ctx,
        "consent_done.html",
        locale,
        200 if answer.recorded else 409,
        outcome=answer.outcome,
        replay=not answer.recorded,
        preferences_url=_preferences_url(ctx, answer.contact.id),
    )


# --- preference page -------------------------------------------------------------------------


@router.get("/preferences/{token}")
async def preferences_page(request: Request, token: str) -> Response:
    ctx = get_ctx(request)
    try:
        page = await run_in_threadpool(
            lambda: preferences.open_preferences(
                ctx, token, locale_of=lambda c: _request_locale(request, c)
            )
        )
    except InvalidLink as exc:
        return _link_problem(request, ctx, exc)
    auto = page.tracking and request.query_params.get("change") != "1"
    return _render(
        request,
        ctx,
        "preferences.html",
        page.locale,
        page=page,
        auto_withdraw=auto,
        message="",
    )


@router.post("/preferences/{token}")
async def preferences_change(request: Request, token: str) -> Response:
    ctx = get_ctx(request)
    data = await _form(request)
    action = _one(data, "action")
    wants_json = "application/json" in request.headers.get("accept", "")
    evidence = _evidence(request, token)
    evidence["via"] = "script" if wants_json else "form"
    try:
        if action == "withdraw":
            change = await run_in_threadpool(
                lambda: preferences.withdraw_all(
                    ctx,
                    token,
                    nonce=_one(data, "nonce"),
                    csrf_token=_one(data, "csrf"),
                    evidence=evidence,
                )
            )
        elif action == "save":
            locale = _request_locale(request)
            change = await run_in_threadpool(
                lambda: preferences.save_choices(
                    ctx,
                    token,
                    nonce=_one(data, "nonce"),
                    csrf_token=_one(data, "csrf"),
                    granted=set(data.get("purpose", [])),
                    notice_ids=_notice_ids(data),
                    locale=locale,
                    evidence=evidence,
                )
            )
        else:
            raise CsrfRejected("unknown action")
    except InvalidLink as exc:
        if wants_json:
            return JSONResponse({"error": "invalid_link"}, status_code=410 if exc.expired else 400)
        return _link_problem(request, ctx, exc)
    except CsrfRejected:
        if wants_json:
            return JSONResponse({"error": "csrf"}, status_code=403)
        return _csrf_problem(request, ctx, _request_locale(request))
    except ClearpixelError:
        if wants_json:
            return JSONResponse({"error": "bad_request"}, status_code=400)
        return _message(
            request,
            ctx,
            _request_locale(request),
            400,
            N_("Something went wrong"),
            N_("Nothing was changed."),
        )
    if wants_json:
        return JSONResponse(
            {"before": change.before, "after": change.after}, headers=SECURITY_HEADERS
        )
    page = await run_in_threadpool(
        lambda: preferences.open_preferences(
            ctx, token, locale_of=lambda c: _request_locale(request, c)
        )
    )
    _ = gettext_for(page.locale)
    message = (
        _("Tracking stopped. We no longer record when you open our emails.")
        if action == "withdraw"
        else _("Your choices are saved.")
    )
    return _render(
        request,
        ctx,
        "preferences.html",
        page.locale,
        page=page,
        auto_withdraw=False,
        message=message,
    )


# --- unsubscribe (RFC 8058 one-click POST, and a confirmation page for people) ---------------


@router.get("/unsubscribe/{token}")
async def unsubscribe_page(request: Request, token: str) -> Response:
    ctx = get_ctx(request)
    try:
        contact = await run_in_threadpool(preferences.unsubscribe_target, ctx, token)
    except InvalidLink as exc:
        return _link_problem(request, ctx, exc)
    return _render(
        request,
        ctx,
        "unsubscribe.html",
        _request_locale(request, contact),
        done=False,
        preferences_url=_preferences_url(ctx, contact.id),
    )


@router.post("/unsubscribe/{token}")
async def unsubscribe(request: Request, token: str) -> Response:
    """One-click: acts on the signed token alone (no cookie, no CSRF pair), answers 200."""
    ctx = get_ctx(request)
    try:
        contact = await run_in_threadpool(preferences.unsubscribe, ctx, token)
    except InvalidLink as exc:
        return _link_problem(request, ctx, exc)
    return _render(
        request,
        ctx,
        "unsubscribe.html",
        _request_locale(request, contact),
        done=True,
        preferences_url=_preferences_url(ctx, contact.id),
    )


EXPIRY_EVERY_SECONDS = 300.0


async def _expiry_loop(ctx: Context, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(pages.expire_pending, ctx, ctx.now())
            await run_in_threadpool(signups.purge_signups, ctx, ctx.now())
            await run_in_threadpool(ctx.db.wipe_freed_pages)
        except Exception:  # the loop must outlive a database hiccup; the next turn retries
            logger.exception("expire_pending failed")


def start_expiry(ctx: Context, *, every: float = EXPIRY_EVERY_SECONDS) -> asyncio.Task[None]:
    """Run `expire_pending` and `purge_signups` every `every` seconds while the app serves
    (the first run after one interval), and wipe what a withdrawal freed if a reader kept its
    own wipe from completing; the app's lifespan cancels the task on shutdown."""
    return asyncio.get_running_loop().create_task(_expiry_loop(ctx, every))


async def stop_expiry(task: asyncio.Task[None]) -> None:
    """Cancel the expiry task and wait for it to end."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
