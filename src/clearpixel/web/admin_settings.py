"""Notices and settings from the browser: add a notice version (the mandatory-element check
shown before saving, and again on save), the results of `clearpixel check` with what to
change, and (admins) the outgoing webhook endpoints: list, add with events, remove, see the
delivery log. Every step calls the services the CLI calls (`consent.notices`,
`reports.compliance`, `deliverability.webhooks`)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from clearpixel.accounts.roles import Permission
from clearpixel.consent import notices
from clearpixel.deliverability import webhooks
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.webhooks import EventType
from clearpixel.i18n import N_, SUPPORTED
from clearpixel.reports.compliance import check_installation, compliant
from clearpixel.web import admin_pages
from clearpixel.web.admin_base import (
    SessionDep,
    check_id,
    guarded_router,
    in_thread,
    locale_of,
    render,
    said,
    say,
)
from clearpixel.web.deps import get_ctx

router = guarded_router()


def _notice_values(form: Any) -> dict[str, str]:
    return {name: str(form.get(name) or "") for name in ("purpose", "locale", "text")}


def _notices_page(request: Request, session: Any, status: int = 200, **values: Any) -> Response:
    ctx = get_ctx(request)
    return render(
        request,
        "notices.html",
        session,
        status_code=status,
        purposes=ctx.purposes.names(),
        locales=SUPPORTED,
        **admin_pages.notices(ctx, locale_of(request)),
        **values,
    )


@router.get("/notices")
def notices_page(request: Request, session: SessionDep) -> Response:
    return _notices_page(request, session)


@router.post("/notices/check")
async def check_notice(request: Request, session: SessionDep) -> Response:
    """The elements a notice text lacks, as JSON (`{"missing": [...]}`); stores nothing."""
    values = _notice_values(await request.form())
    try:
        found = notices.missing_messages(
            values["text"],
            locale=values["locale"],
            purpose=values["purpose"],
            organisation=get_ctx(request).settings.organisation,
        )
        missing = [said(request, m) for m in found]
    except ClearpixelError as exc:
        missing = [said(request, exc)]
    return JSONResponse({"missing": missing})


@router.post("/notices")
async def add_notice(request: Request, session: SessionDep) -> Response:
    """Store the next version of a notice; an incomplete one is shown again with what it
    lacks, and nothing is stored."""
    ctx = get_ctx(request)
    values = _notice_values(await request.form())
    try:
        added = await in_thread(
            notices.add_notice, ctx, values["purpose"], values["locale"], values["text"]
        )
    except ClearpixelError as exc:
        return _notices_page(request, session, 400, error=said(request, exc), values=values)
    notice = say(
        request,
        N_("Version %(version)s of %(purpose)s (%(locale)s) stored."),
        version=added.version,
        purpose=added.purpose,
        locale=added.locale,
    )
    return _notices_page(request, session, notice=notice)


@router.get("/settings")
def settings_page(request: Request, session: SessionDep) -> Response:
    return _settings_page(request, session)


def _settings_page(request: Request, session: Any, status: int = 200, **values: Any) -> Response:
    ctx = get_ctx(request)
    findings = check_installation(ctx)
    return render(
        request,
        "settings.html",
        session,
        status_code=status,
        findings=[(said(request, f.topic), f.status, said(request, f.detail)) for f in findings],
        check_ok=compliant(findings),
        endpoints=webhooks.endpoints(ctx) if session.allows(Permission.ACCOUNTS) else [],
        event_types=[e.value for e in EventType],
        **admin_pages.settings(ctx, locale_of(request)),
        **values,
    )


@router.post("/webhooks")
async def add_webhook(request: Request, session: SessionDep) -> Response:
    form = await request.form()
    ctx = get_ctx(request)
    try:
        added = await in_thread(
            webhooks.add_endpoint,
            ctx,
            str(form.get("url") or ""),
            [str(v) for v in form.getlist("events")],
        )
    except ClearpixelError as exc:
        error = say(request, N_("%(problem)s; nothing was added."), problem=said(request, exc))
        return _settings_page(request, session, 400, webhook_error=error)
    return _settings_page(request, session, added=added)


@router.post("/webhooks/{endpoint_id}/remove")
async def remove_webhook(request: Request, endpoint_id: int, session: SessionDep) -> Response:
    await in_thread(webhooks.remove_endpoint, get_ctx(request), check_id(endpoint_id))
    return _settings_page(request, session, removed=endpoint_id)


@router.get("/webhooks/{endpoint_id}/log")
def webhook_log(request: Request, endpoint_id: int, session: SessionDep) -> Response:
    ctx = get_ctx(request)
    attempts = webhooks.delivery_log(ctx, check_id(endpoint_id))
    found = next((e for e in webhooks.endpoints(ctx) if e.id == endpoint_id), None)
    return render(
        request,
        "webhook_log.html",
        session,
        title=say(request, N_("Webhook deliveries")),
        endpoint_id=endpoint_id,
        endpoint=found,
        attempts=attempts,
    )
