"""`POST /webhooks/bounce/{provider}`: bounces and complaints reported by a relay. The request
is authenticated by its signature (Postmark's credentials, SNS's certificate signature) alone,
no API key and no cookie; one that fails gets 401 and nothing is recorded. It is the relays'
endpoint, not part of the REST API, so it stays out of the API's OpenAPI document (the README
describes it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from clearpixel.deliverability.relay_webhooks import MAX_BODY, UnknownProvider, receive_signed
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, BadWebhookSignature
from clearpixel.web.api_base import error_response
from clearpixel.web.deps import get_ctx

router = APIRouter(tags=["bounce webhooks"])


@router.post("/webhooks/bounce/{provider}", include_in_schema=False)
async def bounce_webhook(
    provider: Annotated[str, Path(max_length=20, pattern=r"^[a-z]+$")], request: Request
) -> JSONResponse:
    """Record the bounces and complaints of a signed relay report."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        return error_response(413, "body too large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return error_response(413, "body too large")
    try:
        recorded = await run_in_threadpool(
            receive_signed,
            get_ctx(request),
            provider,
            body,
            timestamp=request.headers.get(TIMESTAMP_HEADER, ""),
            signature=request.headers.get(SIGNATURE_HEADER, ""),
            authorization=request.headers.get("authorization", ""),
        )
    except BadWebhookSignature as exc:
        return error_response(401, f"signature refused: {exc}")
    except UnknownProvider as exc:
        return error_response(404, str(exc))
    except ClearpixelError as exc:
        return error_response(400, str(exc))
    return JSONResponse({"recorded": recorded})
