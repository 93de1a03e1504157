"""The one route table. Tracking paths (`/o/`, `/c/`) are answered by a raw ASGI handler in
front of the framework, the fastest path the stack allows; everything else goes to FastAPI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Receive, Scope, Send

from clearpixel import __version__
from clearpixel.consent.checkpoints import run_schedule
from clearpixel.context import Context
from clearpixel.deliverability.webhooks import Worker
from clearpixel.ingest.sinks import BatchSink
from clearpixel.ingest.tracker import Tracker
from clearpixel.web import (
    admin,
    api,
    bounce_webhooks,
    consent_pages,
    health,
    periodic,
    signup_pages,
    subject_pages,
    tracking,
)
from clearpixel.web.admin_jobs import Jobs
from clearpixel.web.limits import RequestLimits

log = logging.getLogger("clearpixel.web")


class FrontDoor:
    """Sends tracking requests to the tracking handler and all others to the framework."""

    def __init__(self, tracking: tracking.TrackingEndpoints, framework: ASGIApp) -> None:
        self.tracking = tracking
        self.framework = framework

    @property
    def sink(self) -> BatchSink:
        """Where this app's hits go."""
        return self.tracking.tracker.sink

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.tracking.handles(scope["path"]):
            await self.tracking(scope, receive, send)
        else:
            await self.framework(scope, receive, send)


def _start_checkpoints(ctx: Context) -> asyncio.Task[None] | None:
    """Sign the ledger head on a schedule (R21) when the installation has a checkpoint key."""
    if not ctx.settings.ledger_key_path.exists():
        log.warning(
            "no ledger checkpoint key (%s): run `clearpixel init`", ctx.settings.ledger_key_path
        )
        return None
    every = ctx.settings.checkpoint_minutes * 60
    return asyncio.create_task(run_schedule(ctx, every=every), name="clearpixel-checkpoints")


def create_app(ctx: Context, *, sink: BatchSink | None = None) -> FrontDoor:
    """Build the whole web app for one installation; its hits go to `sink` (default: ingested
    in this process)."""
    tracker = tracking.TrackingEndpoints(Tracker(ctx, sink=sink))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await tracker.start()
        expiry = periodic.start_expiry(ctx)
        checkpoints = _start_checkpoints(ctx)
        webhook_worker = Worker(ctx).start()
        retention = periodic.start_retention(ctx)
        scheduled = periodic.start_schedule(ctx, framework.state.admin_jobs)
        try:
            yield
        finally:
            await periodic.stop(scheduled)
            await periodic.stop(retention)
            webhook_worker.stop()
            if checkpoints is not None:
                checkpoints.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await checkpoints
            await periodic.stop(expiry)
            await tracker.stop()

    # The API docs page with Swagger UI's script, style and icon served by the installation
    # itself (fastapi-offline ships them): it works without internet and loads nothing from
    # a CDN. validatorUrl none: no badge fetched from the public validator either.
    framework = FastAPIOffline(
        title="clearpixel",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/v1/docs",
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
        static_url="/api/v1/docs/static",
        swagger_ui_parameters={"validatorUrl": None},
    )
    framework.state.ctx = ctx
    framework.state.admin_jobs = Jobs()  # admin sends and imports, and scheduled sends
    framework.state.tracker = tracker.tracker
    framework.include_router(health.router)
    framework.include_router(consent_pages.router)
    framework.include_router(signup_pages.router)
    framework.include_router(subject_pages.router)
    framework.include_router(admin.router)
    framework.include_router(api.router)
    framework.include_router(bounce_webhooks.router)
    return FrontDoor(tracker, RequestLimits(framework, ctx))
