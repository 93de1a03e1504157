"""Pixel and click endpoints (`/o/...`, `/c/...`) as a raw ASGI handler."""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from clearpixel.context import Context


class TrackingEndpoints:
    """Answers tracking hits without touching the database on the request path."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def handles(self, path: str) -> bool:
        return False

    async def start(self) -> None:
        """Start the ingest buffer."""

    async def stop(self) -> None:
        """Flush and stop the ingest buffer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
