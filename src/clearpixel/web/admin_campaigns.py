"""Campaigns from the browser: write or edit a draft in a code editor whose problems show
as you type, preview one contact's message in every mode side by side, send a test, send
as a background job with live progress or schedule for a time, cancel, duplicate, delete a
draft, archive and restore a sent one. Every step calls
the services the CLI and the API call (`sending.campaigns`, `sending.trial`).

A campaign's registered links never change (R13: a click may only reach the links of the
campaign it was sent with), so saving an edited draft stores it as a new draft and deletes
the old one: the editor then shows the new id.
"""

from __future__ import annotations

import email
import functools
import re
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from clearpixel.audience import contacts as contact_service
from clearpixel.audience import lists as list_service
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.policy import MessageKind
from clearpixel.i18n import N_
from clearpixel.sending import campaigns as sending
from clearpixel.sending import schedule, trial
from clearpixel.store.campaigns import DRAFT, SCHEDULED
from clearpixel.web.admin_base import (
    Refused,
    SessionDep,
    check_id,
    form_id,
    guarded_router,
    in_thread,
    render,
    said,
    say,
)
from clearpixel.web.admin_jobs import Job, jobs_of
from clearpixel.web.deps import get_ctx

router = guarded_router()
LINE = re.compile(r"\bline (\d+)\b")
QUOTED = re.compile(r"'([^']{3,})'")


def problem_at(request: Request, exc: Exception, source: str) -> dict[str, Any]:
    """A refusal for the editor: its message in the reader's language and the line it
    names, or else the line of the first quoted piece of the source it cites (a URL, a
    tag), or None."""
    line = getattr(exc, "values", {}).get("line")
    if not isinstance(line, int):
        line = _line_cited(str(exc), source)
    return {"message": said(request, exc), "line": line}


def _line_cited(message: str, source: str) -> int | None:
    if found := LINE.search(message):
        return int(found.group(1))
    for quoted in QUOTED.findall(message):
        at = source.find(quoted)
        if at >= 0:
            return source.count("\n", 0, at) + 1
    return None


def _form_values(form: Any) -> dict[str, str]:
    return {
        name: str(form.get(name) or "")
        for name in ("list_id", "kind", "name", "subject", "from_addr", "html", "replaces")
    }


def _editor(
    request: Request,
    session: Any,
    values: dict[str, str],
    *,
    problem: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    ctx = get_ctx(request)
    return render(
        request,
        "campaign_edit.html",
        session,
        status_code=status,
        title=say(request, N_("Edit draft") if values.get("replaces") else N_("New campaign")),
        values=values,
        lists=[x for x in list_service.all_lists(ctx) if x.archived_at is None],
        kinds=[k.value for k in MessageKind],
        problem=problem,
        default_from=ctx.settings.from_address,
        scripts=True,
    )


@router.get("/campaigns/new")
def new_campaign(request: Request, session: SessionDep, copy: int = 0) -> Response:
    """The editor, empty or filled from campaign `copy` (duplicate)."""
    values = {"kind": MessageKind.MARKETING.value, "html": "<p>Hello</p>\n"}
    if copy:
        found = sending.get_campaign(get_ctx(request), check_id(copy))
        values = {
            "list_id": str(found.list_id),
            "kind": found.kind,
            "name": say(request, N_("Copy of %(name)s"), name=found.name)[:200],
            "subject": found.subject,
            "from_addr": found.from_addr,
            "html": found.html,
        }
    return _editor(request, session, values)


@router.get("/campaigns/{campaign_id}/edit")
def edit_campaign(request: Request, campaign_id: int, session: SessionDep) -> Response:
    found = sending.get_campaign(get_ctx(request), check_id(campaign_id))
    if found.status == SCHEDULED:
        raise Refused(
            400, N_("Campaign %(id)s is scheduled: unschedule it first to edit it."), id=found.id
        )
    if found.status != DRAFT:
        raise Refused(
            400,
            N_("Campaign %(id)s is %(state)s: only a draft is edited."),
            id=found.id,
            state=found.status,
        )
    values = {
        "list_id": str(found.list_id),
        "kind": found.kind,
        "name": found.name,
        "subject": found.subject,
        "from_addr": found.from_addr,
        "html": found.html,
        "replaces": str(found.id),
    }
    return _editor(request, session, values)


@router.post("/campaigns/check")
async def check_campaign(request: Request, session: SessionDep) -> Response:
    """The template's problems as JSON (`{"problems": [{"message", "line"}]}`), for the
    editor as you type; stores nothing."""
    values = _form_values(await request.form())
    try:
        await in_thread(
            trial.check_template,
            get_ctx(request),
            list_id=form_id(values["list_id"]),
            kind=values["kind"],
            subject=values["subject"] or "(subject)",
            html=values["html"],
        )
    except (ClearpixelError, ValueError) as exc:
        return JSONResponse({"problems": [problem_at(request, exc, values["html"])]})
    return JSONResponse({"problems": []})


@router.post("/campaigns/new")
async def save_campaign(request: Request, session: SessionDep) -> Response:
    """Store the draft (checked as `campaign create` checks it); an edited draft replaces
    the one it was opened from. A refusal shows the editor again with the problem."""
    ctx = get_ctx(request)
    values = _form_values(await request.form())
    try:
        target = contact_service.get_list(ctx, form_id(values["list_id"]))
        created = await in_thread(
            sending.create_campaign,
            ctx,
            list_name=target.name,
            kind=values["kind"],
            subject=values["subject"],
            html=values["html"],
            from_addr=values["from_addr"] or None,
            name=values["name"] or None,
        )
    except (ClearpixelError, ValueError) as exc:
        return _editor(
            request, session, values, problem=problem_at(request, exc, values["html"]), status=400
        )
    if replaced := form_id(values["replaces"]):
        await in_thread(sending.delete_campaign, ctx, replaced)
    return RedirectResponse(f"/admin/campaigns/{created.id}", status_code=303)


def _parts(data: bytes) -> dict[str, str]:
    """The decoded HTML and text parts of a MIME message, for showing its source."""
    found = {"html": "", "text": ""}
    for part in email.message_from_bytes(data).walk():
        kind = part.get_content_type()
        if kind in ("text/html", "text/plain"):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                charset = part.get_content_charset() or "utf-8"
                found["html" if kind == "text/html" else "text"] = payload.decode(
                    charset, "replace"
                )
    return found


@router.get("/campaigns/{campaign_id}/preview")
def preview_campaign(
    request: Request, campaign_id: int, session: SessionDep, email: str = ""
) -> Response:
    """One contact's message in every mode side by side, as source (rendering it here would
    load its pixel and count a hit). The mode a send would use now is marked."""
    ctx = get_ctx(request)
    found = sending.get_campaign(ctx, check_id(campaign_id))
    previews = []
    if email:
        previews = [
            {
                "mode": p.mode.value,
                "chosen": p.chosen,
                "mime": p.data.decode("utf-8", "replace"),
                **_parts(p.data),
            }
            for p in trial.preview_modes(ctx, found.id, email[:320])
        ]
    return render(
        request,
        "campaign_preview.html",
        session,
        title=say(request, N_("Preview: %(name)s"), name=found.name),
        campaign=found,
        email=email,
        previews=previews,
    )


@router.post("/campaigns/{campaign_id}/test")
async def test_campaign(request: Request, campaign_id: int, session: SessionDep) -> Response:
    form = await request.form()
    sample, to = str(form.get("sample") or ""), str(form.get("to") or "")
    await in_thread(trial.send_test, get_ctx(request), check_id(campaign_id), sample=sample, to=to)
    return RedirectResponse(f"/admin/campaigns/{campaign_id}?tested={to[:320]}", status_code=303)


@router.post("/campaigns/{campaign_id}/send")
def send_campaign(request: Request, campaign_id: int, session: SessionDep) -> Response:
    """Start (or resume) the send in the background; the campaign page shows its progress.
    Delivers by SMTP when CLEARPIXEL_SMTP_URL is set, else to the outbox folder."""
    ctx = get_ctx(request)
    found = sending.get_campaign(ctx, check_id(campaign_id))
    transport = schedule.default_transport(ctx, found)

    def work(job: Job) -> Any:
        return sending.send_campaign(ctx, found.id, transport, progress=job.step)

    jobs_of(request).start(f"send-{found.id}", work)
    return RedirectResponse(f"/admin/campaigns/{found.id}", status_code=303)


@router.get("/campaigns/{campaign_id}/progress")
def send_progress(request: Request, campaign_id: int, session: SessionDep) -> Response:
    """The send's progress as JSON: the running job's steps, and the recipients by status
    and the emails by mode as stored (so it is right after a restart too)."""
    ctx = get_ctx(request)
    job = jobs_of(request).get(f"send-{check_id(campaign_id)}")
    # the job before the stored figures: a job seen finished has written them all
    state = job.as_dict(functools.partial(said, request)) if job else None
    found = sending.get_campaign(ctx, campaign_id)
    body = {
        "status": found.status,
        "detail": found.status_detail,
        "recipients": sending.send_counts(ctx).get(found.id, {}),
        "by_mode": sending.sent_by_mode(ctx, found.id),
        "job": state,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/campaigns/{campaign_id}/cancel")
async def cancel_campaign(request: Request, campaign_id: int, session: SessionDep) -> Response:
    await in_thread(sending.cancel_campaign, get_ctx(request), check_id(campaign_id))
    return RedirectResponse(f"/admin/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/delete")
async def delete_campaign(request: Request, campaign_id: int, session: SessionDep) -> Response:
    await in_thread(sending.delete_campaign, get_ctx(request), check_id(campaign_id))
    return RedirectResponse("/admin", status_code=303)


@router.post("/campaigns/{campaign_id}/schedule")
async def schedule_campaign(request: Request, campaign_id: int, session: SessionDep) -> Response:
    """Schedule the draft for the time typed in the installation's zone; `serve` starts it."""
    ctx = get_ctx(request)
    at = schedule.parse_time(str((await request.form()).get("at") or "")[:64], ctx.settings.zone)
    await in_thread(schedule.schedule_campaign, ctx, check_id(campaign_id), at)
    return RedirectResponse(f"/admin/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/unschedule")
async def unschedule_campaign(request: Request, campaign_id: int, session: SessionDep) -> Response:
    await in_thread(schedule.unschedule_campaign, get_ctx(request), check_id(campaign_id))
    return RedirectResponse(f"/admin/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/archive")
async def archive_campaign(request: Request, campaign_id: int, session: SessionDep) -> Response:
    await in_thread(sending.archive_campaign, get_ctx(request), check_id(campaign_id))
    return RedirectResponse(f"/admin/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/restore")
async def restore_campaign(request: Request, campaign_id: int, session: SessionDep) -> Response:
    ctx = get_ctx(request)
    await in_thread(sending.archive_campaign, ctx, check_id(campaign_id), archived=False)
    return RedirectResponse(f"/admin/campaigns/{campaign_id}", status_code=303)
