"""Public consent pages: consent page, preference page, unsubscribe (the signup form and its
confirmation are in `signup_pages`).

Thin handlers: read the request, call the consent services in a worker thread (they commit
before the response, R5), render a template in the person's language. GET never changes
consent (R9); errors become a clear page with a 4xx status, never a trace, and the same page
for a forged link and an unknown contact.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from clearpixel.consent import pages, preferences
from clearpixel.consent.links import InvalidLink
from clearpixel.consent.pages import CsrfRejected
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.tokens import Token, TokenKind
from clearpixel.domain.urls import preferences_path
from clearpixel.i18n import N_, gettext_for
from clearpixel.store.contacts import Contact
from clearpixel.web.deps import get_ctx
from clearpixel.web.public_pages import (
    ASSETS,
    SECURITY_HEADERS,
    STATIC,
    PublicPageRoute,
    csrf_problem,
    evidence,
    message,
    notice_ids,
    one,
    read_form,
    render,
    request_locale,
)

router = APIRouter(include_in_schema=False, route_class=PublicPageRoute)
logger = logging.getLogger(__name__)


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
    page = await run_in_threadpool(
        lambda: pages.open_consent_page(ctx, token, locale_of=lambda c: request_locale(request, c))
    )
    locale = request_locale(request, page.contact)
    return render(
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
    data = await read_form(request)
    notice = one(data, "notice_id")
    try:
        await run_in_threadpool(
            lambda: pages.note_view(
                ctx,
                token,
                nonce=one(data, "nonce"),
                csrf_token=one(data, "csrf"),
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
    data = await read_form(request)
    choice = one(data, "choice")
    notice = one(data, "notice_id")
    try:
        if choice not in ("accept", "refuse"):
            raise CsrfRejected("no choice")
        answer = await run_in_threadpool(
            lambda: pages.answer_consent_page(
                ctx,
                token,
                accept=choice == "accept",
                nonce=one(data, "nonce"),
                csrf_token=one(data, "csrf"),
                notice_id=int(notice) if notice.isdigit() else None,
                evidence=evidence(request, token),
            )
        )
    except CsrfRejected:
        return csrf_problem(request, ctx, request_locale(request))
    locale = request_locale(request, answer.contact)
    return render(
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
    page = await run_in_threadpool(
        lambda: preferences.open_preferences(
            ctx, token, locale_of=lambda c: request_locale(request, c)
        )
    )
    auto = page.tracking and request.query_params.get("change") != "1"
    return render(
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
    data = await read_form(request)
    action = one(data, "action")
    wants_json = "application/json" in request.headers.get("accept", "")
    kept = evidence(request, token)
    kept["via"] = "script" if wants_json else "form"
    try:
        if action == "withdraw":
            change = await run_in_threadpool(
                lambda: preferences.withdraw_all(
                    ctx,
                    token,
                    nonce=one(data, "nonce"),
                    csrf_token=one(data, "csrf"),
                    evidence=kept,
                )
            )
        elif action == "save":
            locale = request_locale(request)
            change = await run_in_threadpool(
                lambda: preferences.save_choices(
                    ctx,
                    token,
                    nonce=one(data, "nonce"),
                    csrf_token=one(data, "csrf"),
                    granted=set(data.get("purpose", [])),
                    notice_ids=notice_ids(data),
                    locale=locale,
                    evidence=kept,
                )
            )
        else:
            raise CsrfRejected("unknown action")
    except InvalidLink as exc:
        if wants_json:
            return JSONResponse({"error": "invalid_link"}, status_code=410 if exc.expired else 400)
        raise  # the page that says the link is bad or expired (PublicPageRoute)
    except CsrfRejected:
        if wants_json:
            return JSONResponse({"error": "csrf"}, status_code=403)
        return csrf_problem(request, ctx, request_locale(request))
    except ClearpixelError:
        if wants_json:
            return JSONResponse({"error": "bad_request"}, status_code=400)
        return message(
            request,
            ctx,
            request_locale(request),
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
            ctx, token, locale_of=lambda c: request_locale(request, c)
        )
    )
    _ = gettext_for(page.locale)
    done = (
        _("Tracking stopped. We no longer record when you open our emails.")
        if action == "withdraw"
        else _("Your choices are saved.")
    )
    return render(
        request,
        ctx,
        "preferences.html",
        page.locale,
        page=page,
        auto_withdraw=False,
        message=done,
    )


# --- unsubscribe (RFC 8058 one-click POST, and a confirmation page for people) ---------------


def _unsubscribe_page(request: Request, ctx: Context, contact: Contact, *, done: bool) -> Response:
    """The unsubscribe page: the button (`done` False) or what was done, with the way to the
    preference page."""
    return render(
        request,
        ctx,
        "unsubscribe.html",
        request_locale(request, contact),
        done=done,
        preferences_url=_preferences_url(ctx, contact.id),
    )


@router.get("/unsubscribe/{token}")
async def unsubscribe_page(request: Request, token: str) -> Response:
    ctx = get_ctx(request)
    contact = await run_in_threadpool(preferences.unsubscribe_target, ctx, token)
    return _unsubscribe_page(request, ctx, contact, done=False)


@router.post("/unsubscribe/{token}")
async def unsubscribe(request: Request, token: str) -> Response:
    """One-click: acts on the signed token alone (no cookie, no CSRF pair), answers 200."""
    ctx = get_ctx(request)
    contact = await run_in_threadpool(preferences.unsubscribe, ctx, token)
    return _unsubscribe_page(request, ctx, contact, done=True)
