"""The "download my data" link of the preference page: the person's own export, authenticated
by the page's signed link. Reading it changes nothing; a forged or dead link gets the same
refusal page as the preference page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from clearpixel.subjects import access
from clearpixel.web.deps import get_ctx
from clearpixel.web.public_pages import SECURITY_HEADERS, PublicPageRoute

router = APIRouter(include_in_schema=False, route_class=PublicPageRoute)

# The export page is self-contained: its styles are inline, nothing else loads.
EXPORT_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


@router.get("/preferences/{token}/data")
async def my_data(request: Request, token: str) -> Response:
    ctx = get_ctx(request)
    data = await run_in_threadpool(lambda: access.export_for_link(ctx, token))
    if request.query_params.get("format") == "json":
        return Response(
            access.export_json(data),
            media_type="application/json",
            headers={
                **EXPORT_HEADERS,
                "Content-Disposition": 'attachment; filename="my-data.json"',
            },
        )
    return HTMLResponse(access.export_html(data), headers=EXPORT_HEADERS)
