"""Import from the browser (`/admin/import`): upload a CSV, see its first rows and detected
columns, choose the flags mode and (when the file grants consent) the legal basis, then run
`contacts import`'s own service as a background job with a progress bar. The rules are the
CLI's exactly (`audience.csv_import.import_csv`): a file with a bad line is refused whole,
nothing applied, unless "skip invalid lines" was chosen; the refused lines, each with its
reason, can be downloaded as a CSV.

Uploads wait in `DATA_DIR/admin-imports/` under a random name (the page's token) and are
removed once imported; an upload that is not UTF-8 CSV is refused at once and not kept, and
whatever is left there (uploads never imported, refused-lines files, which hold addresses) is
removed a day later, at the next upload."""

from __future__ import annotations

import codecs
import csv
import functools
import io
import secrets
import time
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from clearpixel.audience import contacts as contact_service
from clearpixel.audience import lists as list_service
from clearpixel.audience.csv_import import FlagsMode, import_csv
from clearpixel.context import Context
from clearpixel.i18n import N_
from clearpixel.web.admin_base import (
    SECURITY_HEADERS,
    Refused,
    SessionDep,
    form_id,
    guarded_router,
    render,
    said,
    say,
)
from clearpixel.web.admin_jobs import Job, jobs_of
from clearpixel.web.deps import get_ctx

router = guarded_router()
PREVIEW_ROWS = 5
RESERVED = ("email", "privacy_flags", "status")
CHUNK = 1024 * 1024
KEEP_SECONDS = 24 * 3600  # how long an upload or a refused-lines file waits


def _folder(ctx: Context) -> Path:
    folder = ctx.settings.data_dir / "admin-imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _upload(ctx: Context, token: str) -> Path:
    if not token.isalnum() or len(token) > 64:
        raise Refused(404, N_("No such upload."))
    path = _folder(ctx) / f"{token}.csv"
    if not path.is_file():
        raise Refused(404, N_("No such upload (it was imported or has expired)."))
    return path


def _prune(folder: Path) -> None:
    """Remove the uploads and refused-lines files older than KEEP_SECONDS."""
    limit = time.time() - KEEP_SECONDS
    for old in folder.glob("*.csv"):
        try:
            if old.stat().st_mtime < limit:
                old.unlink()
        except FileNotFoundError:
            continue


def _peek(path: Path, filename: str) -> dict[str, Any]:
    """The header, the first rows and what each column is, read for showing only (the
    import itself judges every line). Raises Refused 400 for a file that is not UTF-8 CSV."""
    with path.open("rb") as raw:
        data = raw.read(64 * 1024)
    try:  # (a character cut at the end of the 64 KB read is not an error)
        head = codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=False)
        rows = list(csv.reader(io.StringIO(head)))[: PREVIEW_ROWS + 1]
    except UnicodeDecodeError:
        raise Refused(
            400,
            N_("%(file)s is not UTF-8 text; save it as CSV UTF-8. Nothing was stored."),
            file=filename,
        ) from None
    except csv.Error as exc:
        raise Refused(
            400,
            N_("%(file)s is not a CSV file (%(problem)s). Nothing was stored."),
            file=filename,
            problem=str(exc),
        ) from None
    header = [name.strip() for name in rows[0]] if rows else []
    roles = [name.lower() if name.lower() in RESERVED else "attribute" for name in header]
    return {"header": header, "roles": roles, "rows": rows[1:]}


@router.get("/import")
def import_page(request: Request, session: SessionDep) -> Response:
    ctx = get_ctx(request)
    return render(
        request,
        "import.html",
        session,
        title=say(request, N_("Import contacts")),
        lists=[x for x in list_service.all_lists(ctx) if x.archived_at is None],
    )


@router.post("/import")
async def upload(request: Request, session: SessionDep) -> Response:
    """Keep the uploaded file and show its first rows with the import's choices."""
    ctx = get_ctx(request)
    form = await request.form()
    file = form.get("file")
    list_id = form_id(form.get("list_id"))
    if not isinstance(file, UploadFile) or not list_id:
        await form.close()
        raise Refused(400, N_("Choose a list and a CSV file."))
    path: Path | None = None
    filename = (file.filename or "upload.csv")[:200]
    try:
        target = contact_service.get_list(ctx, list_id)
        target.check_open()
        _prune(_folder(ctx))
        token = secrets.token_hex(16)
        path = _folder(ctx) / f"{token}.csv"
        with path.open("wb") as out:
            while chunk := await file.read(CHUNK):
                out.write(chunk)
        shown = _peek(path, filename)
    except BaseException:
        if path is not None:
            path.unlink(missing_ok=True)
        raise
    finally:
        await file.close()
    return render(
        request,
        "import_preview.html",
        session,
        title=say(request, N_("Import contacts")),
        token=token,
        target=target,
        filename=filename,
        modes=[m.value for m in FlagsMode],
        **shown,
    )


@router.post("/import/{token}/run")
async def run_import(request: Request, token: str, session: SessionDep) -> Response:
    """Start the import as a background job; its page shows the progress and the result."""
    ctx = get_ctx(request)
    path = _upload(ctx, token)
    form = await request.form()
    target = contact_service.get_list(ctx, form_id(form.get("list_id")))
    try:
        mode = FlagsMode(str(form.get("flags_mode") or "merge"))
    except ValueError as exc:
        raise Refused(400, N_("The flags mode must be merge, replace or ignore.")) from exc
    basis = str(form.get("basis") or "")[:1000]
    file_name = str(form.get("filename") or "")[:200]
    skip_invalid = form.get("skip_invalid") == "on"
    rejected = path.with_suffix(".rejected.csv")
    rejected.unlink(missing_ok=True)

    def work(job: Job) -> Any:
        report = import_csv(
            ctx,
            path,
            list_name=target.name,
            flags_mode=mode,
            basis=basis,
            skip_invalid=skip_invalid,
            rejected_path=rejected,
            progress=lambda _phase, done, total: job.step(done, total),
            file_name=file_name,
        )
        path.unlink(missing_ok=True)
        return report

    jobs_of(request).start(f"import-{token}", work)
    return RedirectResponse(f"/admin/import/{token}", status_code=303)


def _state(request: Request, token: str) -> dict[str, Any]:
    job = jobs_of(request).get(f"import-{token}")
    if job is None:
        raise Refused(404, N_("No such import."))
    report = job.result
    return {
        **job.as_dict(functools.partial(said, request)),
        "report": None
        if report is None
        else {
            "rows": report.rows,
            "created": report.created,
            "updated": report.updated,
            "flags_changed": report.flags_changed,
            "skipped_refused_by_contact": report.skipped_refused,
            "rejected": report.rejected,
        },
    }


@router.get("/import/{token}")
def import_status(request: Request, token: str, session: SessionDep) -> Response:
    ctx = get_ctx(request)
    state = _state(request, token)
    rejected = _folder(ctx) / f"{token}.rejected.csv"
    return render(
        request,
        "import_status.html",
        session,
        title=say(request, N_("Import contacts")),
        token=token,
        state=state,
        refused_lines=rejected.is_file() and token.isalnum(),
        scripts=False,
    )


@router.get("/import/{token}/progress")
def import_progress(request: Request, token: str, session: SessionDep) -> Response:
    return JSONResponse(_state(request, token), headers={"Cache-Control": "no-store"})


@router.get("/import/{token}/refused.csv")
def refused_lines(request: Request, token: str, session: SessionDep) -> Response:
    """The refused lines, each with its reason (a `reason` column), as the CLI's
    --rejected file."""
    if not token.isalnum():
        raise Refused(404, N_("No such file."))
    path = _folder(get_ctx(request)) / f"{token}.rejected.csv"
    if not path.is_file():
        raise Refused(404, N_("No refused line for this import."))
    return FileResponse(
        path,
        media_type="text/csv; charset=utf-8",
        filename="refused-lines.csv",
        headers=SECURITY_HEADERS,
    )
