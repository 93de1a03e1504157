"""The floor for any Python server here: an app that answers every request with the GIF and
does nothing else (no token, no classification, no recording). `app` is the ASGI app (run
under uvicorn and under granian), `rsgi_app` the same for granian's own RSGI interface."""

from __future__ import annotations

from typing import Any

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"image/gif"), (b"content-length", b"43")],
}
BODY = {"type": "http.response.body", "body": GIF}
RSGI_HEADERS = [("content-type", "image/gif"), ("content-length", "43")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await send(START)
        await send(BODY)


async def rsgi_app(scope: Any, protocol: Any) -> None:
    protocol.response_bytes(200, RSGI_HEADERS, GIF)
