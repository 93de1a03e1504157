"""What every REST route shares: API-key authentication, one error body shape, pagination.

Errors are always `{"error": {"code": "...", "message": "..."}}`: a ClearpixelError becomes 400
(404 for NotFound, 409 for a conflict), a request that fails validation 422, a missing or
revoked key 401. `ApiRoute` converts them, so every router built with it answers the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from clearpixel.accounts import api_keys
from clearpixel.accounts.roles import allows
from clearpixel.audience import contacts as contact_service
from clearpixel.audience.contacts import ContactExists
from clearpixel.domain.errors import ClearpixelError, NotFound
from clearpixel.sending import campaigns as sending
from clearpixel.store.lists import ListExists
from clearpixel.web.deps import get_ctx
from clearpixel.web.permissions import needed_by

MAX_ID = 2**31 - 1
CONFLICTS: tuple[type[Exception], ...] = (ContactExists, ListExists)


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404, 409, 422)
}

_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "validation_error",
}


def error_response(status: int, message: str, *, code: str | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"error": {"code": code or _CODES.get(status, "error"), "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


def _id_out_of_range(exc: RequestValidationError) -> bool:
    """A path id beyond the integer range names nothing that can exist: 404, like any id
    that is not there (not a 422 that suggests the request could be mended)."""
    errors = exc.errors()
    return bool(errors) and all(
        err.get("loc", ("",))[0] == "path" and err.get("type") == "less_than_equal"
        for err in errors
    )


class ApiRoute(APIRoute):
    """A route whose errors all come out as the one error body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                if _id_out_of_range(exc):
                    return error_response(404, "no such resource: the id is out of range")
                return error_response(422, _validation_message(exc))
            except HTTPException as exc:
                return error_response(exc.status_code, str(exc.detail))
            except NotFound as exc:
                return error_response(404, str(exc))
            except CONFLICTS as exc:
                return error_response(409, str(exc))
            except ClearpixelError as exc:
                return error_response(400, str(exc))

        return guarded


_bearer = HTTPBearer(auto_error=False, description="An API key from `clearpixel apikeys create`.")


SIGNUP_ROUTE = "/lists/{list_id}/signups"  # (the route's path under /api/v1)


def api_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> int:
    """The id of the presented, unrevoked API key, allowed on this route; 401 for no key,
    403 for a key whose role lacks what the route needs (`web.permissions`, which refuses a
    route it does not name), limited to signups, to another list, or to one list on a route
    that reaches every list (a data-subject request). Served, the key was
    already checked before the body was read (web/limits.py); its role, scope and list are
    checked here, where the route and its path are known."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "an API key is required: Authorization: Bearer <key>")
    ctx = get_ctx(request)
    key = api_keys.api_key(ctx, credentials.credentials)
    if key is None:
        raise HTTPException(401, "unknown or revoked API key")
    route = getattr(request.scope.get("route"), "path", "")
    need = needed_by(request)
    if need is None or not allows(key.role, need):
        raise HTTPException(403, f"this key's role ({key.role}) does not allow this route")
    if key.scope == "signup" and (not route.endswith(SIGNUP_ROUTE) or request.method != "POST"):
        raise HTTPException(403, "this key may only start signups (POST .../signups)")
    if key.list_id is not None:
        if not _LIST_NAMING.intersection(request.path_params):
            raise HTTPException(403, _beyond_one_list(route))
        if _list_of(request) != key.list_id:
            raise HTTPException(403, "this key is limited to another list")
    return key.id


_LIST_NAMING = {"list_id", "contact_id", "campaign_id"}  # path parameters that name a list


def _beyond_one_list(route: str) -> str:
    """Why a key limited to one list may not use `route`, which names no list."""
    why = " (a person's export or erasure covers every list they are in)"
    return (
        "this key is limited to one list, and this request reaches every list"
        f"{why if '/subjects/' in route else ''}: use a key that is not limited to a list"
    )


def _list_of(request: Request) -> int | None:
    """The list a request acts on, from its path (None when it names none)."""
    ctx = get_ctx(request)
    params = request.path_params
    try:
        if "list_id" in params:
            return int(params["list_id"])
        if "contact_id" in params:
            return contact_service.get_contact(ctx, int(params["contact_id"])).list_id
        if "campaign_id" in params:
            return sending.get_campaign(ctx, int(params["campaign_id"])).list_id
    except (ValueError, NotFound):
        return None
    return None


class Page:
    """`limit` and `cursor` query parameters; the cursor is the last id of the previous page."""

    def __init__(
        self,
        limit: int = Query(50, ge=1, le=500, description="Items per page."),
        cursor: str | None = Query(
            None, max_length=20, description="`next_cursor` of the previous page."
        ),
    ) -> None:
        self.limit = limit
        self.after = 0
        if cursor:
            if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > 2**62:
                raise HTTPException(400, "cursor is not one this API gave out")
            self.after = int(cursor)

    def next_cursor(self, last_ids: list[int]) -> str | None:
        return str(last_ids[-1]) if len(last_ids) == self.limit else None


IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
PageDep = Annotated[Page, Depends()]
KeyDep = Annotated[int, Depends(api_key)]
