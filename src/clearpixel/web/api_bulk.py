"""REST API: CSV import, bulk grant/revoke with a legal basis, ledger verification, the
flags check and the consent dashboard. Every flags change goes through the consent
services (`record_decisions`)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import BaseModel, Field

from clearpixel.audience import contacts as contact_service
from clearpixel.audience.csv_import import FlagsMode, import_csv
from clearpixel.consent.bulk import bulk_change
from clearpixel.consent.checkpoints import gather
from clearpixel.consent.integrity import check_flags, verify_ledger
from clearpixel.domain.errors import ClearpixelError
from clearpixel.reports.consent import consent_dashboard
from clearpixel.web.api_base import ApiRoute, IdPath, KeyDep
from clearpixel.web.deps import get_ctx

MAX_UPLOAD = 200 * 1024 * 1024

# Included by `api.router`, which adds the prefix, the key check and the error responses.
router = APIRouter(route_class=ApiRoute)


class RowErrorOut(BaseModel):
    line: int
    reason: str


class ImportOut(BaseModel):
    source_sha256: str
    rows: int
    created: int
    updated: int
    flags_changed: int
    skipped_refused_by_contact: int = Field(
        description="Rows whose consent was not granted: the contact had refused or withdrawn "
        "it themselves."
    )
    rejected: int
    errors: list[RowErrorOut]


class BulkIn(BaseModel):
    action: Literal["grant", "revoke"]
    purpose: str = Field(min_length=1, max_length=64)
    basis: str = Field(
        min_length=1,
        max_length=1000,
        pattern=r"^[^\x00]*\S[^\x00]*$",
        description="The legal basis the change rests on (stored as evidence).",
    )
    only_null: bool = Field(False, description="Only contacts never asked (flags NULL).")


class BulkOut(BaseModel):
    purpose: str
    granted: bool
    contacts: int
    changed: int
    unchanged: int
    skipped_refused_by_contact: int = Field(
        description="Contacts not granted the purpose: they refused or withdrew it themselves."
    )


class VerifyOut(BaseModel):
    ok: bool
    entries: int
    fault_seq: int | None
    problem: str | None


class FlagsCheckOut(BaseModel):
    ok: bool
    contacts: int
    problem: str | None


@router.post(
    "/lists/{list_id}/contacts/import",
    response_model=ImportOut,
    tags=["contacts"],
)
def post_import(
    request: Request,
    list_id: IdPath,
    file: Annotated[UploadFile, File(description="CSV with an `email` column.")],
    key_id: KeyDep,
    flags_mode: Annotated[FlagsMode, Form()] = FlagsMode.MERGE,
    basis: Annotated[str, Form(max_length=1000)] = "",
    skip_invalid: Annotated[bool, Form()] = False,
) -> ImportOut:
    """Import a CSV file (columns `email`, optional `privacy_flags`, `status`, attributes).
    Flags in the file are recorded with method `import` and need a legal `basis`; the file is
    all or nothing unless `skip_invalid`."""
    ctx = get_ctx(request)
    target = contact_service.get_list(ctx, list_id)
    with tempfile.TemporaryDirectory(prefix="clearpixel-import-") as folder:
        path = FilePath(folder) / "upload.csv"
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        if path.stat().st_size > MAX_UPLOAD:
            raise ClearpixelError(f"the file is larger than {MAX_UPLOAD // (1 << 20)} MB")
        report = import_csv(
            ctx,
            path,
            list_name=target.name,
            flags_mode=flags_mode,
            basis=basis.replace("\x00", "") or None,
            skip_invalid=skip_invalid,
        )
    return ImportOut(
        source_sha256=report.source_sha256,
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        flags_changed=report.flags_changed,
        skipped_refused_by_contact=report.skipped_refused,
        rejected=report.rejected,
        errors=[RowErrorOut(line=e.line, reason=str(e.reason)) for e in report.errors],
    )


@router.post("/lists/{list_id}/bulk", response_model=BulkOut, tags=["consent"])
def post_bulk(request: Request, body: BulkIn, list_id: IdPath, key_id: KeyDep) -> BulkOut:
    """Grant or revoke one purpose for a whole list (NULL-safe, R15), with a legal basis: one
    ledger entry (method `bulk`) per contact that changes."""
    ctx = get_ctx(request)
    target = contact_service.get_list(ctx, list_id)
    report = bulk_change(
        ctx,
        list_name=target.name,
        purpose=body.purpose,
        grant=body.action == "grant",
        basis=body.basis,
        only_null=body.only_null,
        actor=f"api-key:{key_id}",
    )
    return BulkOut(
        purpose=report.purpose,
        granted=report.granted,
        contacts=report.contacts,
        changed=report.changed,
        unchanged=report.unchanged,
        skipped_refused_by_contact=report.skipped_refused,
    )


@router.get("/ledger/verify", response_model=VerifyOut, tags=["ledger"])
def get_verify(request: Request) -> VerifyOut:
    """Check the whole hash chain, its head and the installation's signed checkpoints (R11,
    R21): the first fault, if any."""
    ctx = get_ctx(request)
    report = verify_ledger(ctx, checkpoints=gather(ctx.settings))
    fault = report.fault
    return VerifyOut(
        ok=fault is None,
        entries=report.entries,
        fault_seq=fault.seq if fault else None,
        problem=fault.problem if fault else None,
    )


@router.get("/reports/consent", response_model=dict[str, Any], tags=["reports"])
def get_consent_report(request: Request) -> dict[str, Any]:
    """The consent dashboard: per list and purpose never asked / refused / granted, its daily
    history from the ledger, consent-request outcomes, withdrawals per day. No address."""
    return consent_dashboard(get_ctx(request)).as_dict()


@router.get("/ledger/flags-check", response_model=FlagsCheckOut, tags=["ledger"])
def get_flags_check(request: Request) -> FlagsCheckOut:
    """fold(ledger) == privacy_flags for every contact (R10)."""
    ctx = get_ctx(request)
    report = check_flags(ctx, checkpoints=gather(ctx.settings))
    return FlagsCheckOut(
        ok=report.mismatch is None and not report.checkpoint_problem,
        contacts=report.contacts,
        problem=report.checkpoint_problem
        or (report.mismatch.describe() if report.mismatch else None),
    )
