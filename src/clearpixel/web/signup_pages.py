"""The public signup form and its confirmation link (double opt-in, R18).

`POST /subscribe/{list}` never decides for anyone: it answers the same "check your inbox"
page whatever the address, and the address's owner confirms through the emailed link, whose
GET shows what would be recorded and whose POST (with the page's CSRF pair) records it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from clearpixel.consent import forms, signups
from clearpixel.consent.evidence import page_without_query, truncate_ip
from clearpixel.consent.pages import CsrfRejected
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError, NotFound
from clearpixel.i18n import N_, environment, gettext_for, normalise_locale
from clearpixel.web.deps import get_ctx
from clearpixel.web.public_pages import (
    TEMPLATES,
    PublicPageRoute,
    csrf_problem,
    message,
    notice_ids,
    one,
    read_form,
    render,
    request_locale,
)

router = APIRouter(include_in_schema=False, route_class=PublicPageRoute)


@router.get("/subscribe/{list_name}")
async def subscribe_form(request: Request, list_name: str) -> Response:
    ctx = get_ctx(request)
    locale = request_locale(request)
    try:
        form = await run_in_threadpool(forms.signup_form, ctx, list_name, locale)
    except NotFound:
        return message(request, ctx, locale, 404, N_("Unknown list"), N_("There is no such list."))
    return render(request, ctx, "signup.html", locale, form=form, action="", error="")


@router.post("/subscribe/{list_name}")
async def subscribe(request: Request, list_name: str) -> Response:
    """A submission: at most a confirmation mail to the address, the same answer for any."""
    ctx = get_ctx(request)
    data = await read_form(request)
    locale = normalise_locale(one(data, "lang")) or request_locale(request)
    network = truncate_ip(request.client.host if request.client else None)
    form_url = str(request.url.replace(query=""))
    evidence = {
        "page_url": page_without_query(request.headers.get("referer") or form_url),
        "form_url": page_without_query(form_url),
        "ip": network,
    }
    try:
        started = await run_in_threadpool(
            lambda: signups.start_signup(
                ctx,
                list_name,
                email=one(data, "email"),
                ticked=set(data.get("purpose", [])),
                notice_ids=notice_ids(data),
                locale=locale,
                evidence=evidence,
                network=network,
            )
        )
    except NotFound:
        return message(request, ctx, locale, 404, N_("Unknown list"), N_("There is no such list."))
    except signups.SignupLimited:
        return message(
            request,
            ctx,
            locale,
            429,
            N_("Too many signups"),
            N_("Too many signups came from your network. Nothing was recorded; try again later."),
        )
    except ClearpixelError as exc:
        form = await run_in_threadpool(forms.signup_form, ctx, list_name, locale)
        _ = gettext_for(locale)
        error = _("Enter a valid email address.") if isinstance(exc, forms.BadSignup) else str(exc)
        return render(request, ctx, "signup.html", locale, 400, form=form, action="", error=error)
    if started.recorded is not None:
        return render(
            request,
            ctx,
            "signup_done.html",
            locale,
            list_name=list_name,
            granted=started.recorded.granted,
            refused=started.recorded.refused,
        )
    return render(request, ctx, "signup_sent.html", locale, list_name=list_name)


@router.get("/subscribe/confirm/{token}")
async def confirmation_page(request: Request, token: str) -> Response:
    """What confirming records, and the one button; changes nothing (R9)."""
    ctx = get_ctx(request)
    page = await run_in_threadpool(signups.open_confirmation, ctx, token)
    return render(request, ctx, "signup_confirm.html", page.locale, page=page)


@router.post("/subscribe/confirm/{token}")
async def confirm(request: Request, token: str) -> Response:
    ctx = get_ctx(request)
    data = await read_form(request)
    try:
        result = await run_in_threadpool(
            lambda: signups.confirm_signup(
                ctx, token, nonce=one(data, "nonce"), csrf_token=one(data, "csrf")
            )
        )
    except CsrfRejected:
        return csrf_problem(request, ctx, request_locale(request))
    page = await run_in_threadpool(signups.open_confirmation, ctx, token)
    if result is None:
        return message(
            request,
            ctx,
            page.locale,
            409,
            N_("Already confirmed"),
            N_("This link was already used. Nothing more was recorded."),
        )
    return render(
        request,
        ctx,
        "signup_done.html",
        page.locale,
        list_name=page.audience.name,
        granted=result.granted,
        refused=result.refused,
    )


def signup_snippet(ctx: Context, list_name: str, locale: str) -> str:
    """The signup form as embeddable HTML: it posts to this installation's base URL."""
    form = forms.signup_form(ctx, list_name, locale)
    env = environment(locale, TEMPLATES)
    return env.get_template("_signup_form.html").render(form=form, action=form.action_url)
