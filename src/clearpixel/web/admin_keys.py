"""REST API keys from the admin (admins only): list, create (with a role, optionally limited
to signups or to one list; the secret shown once) and revoke, through `accounts.api_keys`,
the service `clearpixel apikeys` calls."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from clearpixel.accounts import api_keys
from clearpixel.accounts.roles import Role
from clearpixel.audience import lists as list_service
from clearpixel.domain.errors import ClearpixelError
from clearpixel.i18n import N_
from clearpixel.web.admin_base import (
    SessionDep,
    check_id,
    guarded_router,
    in_thread,
    render,
    said,
    say,
)
from clearpixel.web.deps import get_ctx

router = guarded_router()


def _keys_page(request: Request, session: Any, status: int = 200, **values: Any) -> Response:
    ctx = get_ctx(request)
    lists = list_service.all_lists(ctx)
    return render(
        request,
        "api_keys.html",
        session,
        status_code=status,
        title=say(request, N_("API keys")),
        keys=api_keys.api_keys(ctx),
        roles=[r.value for r in Role],
        scopes=api_keys.SCOPES,
        lists=lists,
        list_names={x.id: x.name for x in lists},
        **values,
    )


@router.get("/apikeys")
def keys_page(request: Request, session: SessionDep) -> Response:
    return _keys_page(request, session)


@router.post("/apikeys")
async def create_key(request: Request, session: SessionDep) -> Response:
    form = await request.form()
    try:
        key, secret = await in_thread(
            api_keys.create_api_key,
            get_ctx(request),
            str(form.get("name") or ""),
            scope=str(form.get("scope") or "full"),
            list_name=str(form.get("list_name") or "") or None,
            role=str(form.get("role") or "auditor"),
        )
    except ClearpixelError as exc:
        error = say(request, N_("%(problem)s; no key was created."), problem=said(request, exc))
        return _keys_page(request, session, 400, error=error)
    return _keys_page(request, session, created=key, secret=secret)


@router.post("/apikeys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: int, session: SessionDep) -> Response:
    await in_thread(api_keys.revoke_api_key, get_ctx(request), check_id(key_id))
    notice = say(request, N_("API key %(id)s revoked."), id=key_id)
    return _keys_page(request, session, notice=notice)
