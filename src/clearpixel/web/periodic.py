"""Housekeeping the app runs while it serves: consent requests left unanswered and expired
signups every few minutes, the retention run once a day."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from starlette.concurrency import run_in_threadpool

from clearpixel.consent import pages, signups
from clearpixel.context import Context
from clearpixel.subjects.retention import run_retention

EXPIRY_EVERY_SECONDS = 300.0
RETENTION_EVERY_SECONDS = 24 * 3600.0
RETENTION_FIRST_AFTER_SECONDS = 600.0  # a server restarted daily still runs it
logger = logging.getLogger(__name__)


def expire_once(ctx: Context, now: datetime) -> None:
    """One expiry turn as of `now`: record "no decision" for consent pages and links left
    unanswered, purge expired signups, and wipe what a withdrawal freed if a reader kept its
    own wipe from completing."""
    pages.expire_pending(ctx, now)
    signups.purge_signups(ctx, now)
    ctx.db.wipe_freed_pages()


async def _expiry_loop(ctx: Context, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(expire_once, ctx, ctx.now())
        except Exception:  # the loop must outlive a database hiccup; the next turn retries
            logger.exception("expire_pending failed")


def start_expiry(ctx: Context, *, every: float = EXPIRY_EVERY_SECONDS) -> asyncio.Task[None]:
    """Run `expire_once` every `every` seconds while the app serves (the first run after one
    interval); the app's lifespan cancels the task on shutdown."""
    return asyncio.get_running_loop().create_task(_expiry_loop(ctx, every))


async def _retention_loop(ctx: Context, first_after: float, every: float) -> None:
    await asyncio.sleep(first_after)
    while True:
        try:
            report = await run_in_threadpool(lambda: run_retention(ctx, ctx.now()))
            logger.info("retention run: %s", report)
        except Exception:  # the loop must outlive a database hiccup; the next turn retries
            logger.exception("retention run failed")
        await asyncio.sleep(every)


def start_retention(
    ctx: Context,
    *,
    first_after: float = RETENTION_FIRST_AFTER_SECONDS,
    every: float = RETENTION_EVERY_SECONDS,
) -> asyncio.Task[None]:
    """Apply the retention windows `first_after` seconds after start-up, then every `every`
    seconds while the app serves; the app's lifespan cancels the task on shutdown."""
    return asyncio.get_running_loop().create_task(_retention_loop(ctx, first_after, every))


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel a housekeeping task and wait for it to end."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
