"""Housekeeping the app runs while it serves: consent requests left unanswered and expired
signups every few minutes, the retention run once a day, and scheduled campaigns started
when their time comes (every CLEARPIXEL_SCHEDULE_CHECK_SECONDS)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from datetime import datetime

from starlette.concurrency import run_in_threadpool

from clearpixel.consent import pages, signups
from clearpixel.context import Context
from clearpixel.sending import schedule
from clearpixel.store.campaigns import Campaign
from clearpixel.subjects.retention import run_retention
from clearpixel.web.admin_jobs import Job, Jobs

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


def start_due_once(ctx: Context, jobs: Jobs, now: datetime) -> list[int]:
    """One schedule turn as of `now`: claim the due campaigns no other process claimed and
    start each one's send as a background job of this process (the admin's live bar; any
    process reads its progress from the stored send rows). Returns the claimed ids."""
    started = []
    for campaign in schedule.claim_due(ctx, now):
        jobs.start(f"send-{campaign.id}", functools.partial(_send_claimed, ctx, campaign))
        started.append(campaign.id)
        logger.info("scheduled campaign %s started", campaign.id)
    return started


def _send_claimed(ctx: Context, campaign: Campaign, job: Job) -> object:
    """Send a claimed campaign (a campaign that cannot start, its links included, ends
    `failed` with the reason)."""
    transport = schedule.default_transport(ctx, campaign)
    return schedule.start_claimed(ctx, campaign, transport, progress=job.step)


async def _schedule_loop(ctx: Context, jobs: Jobs, every: float) -> None:
    while True:
        try:
            await run_in_threadpool(start_due_once, ctx, jobs, ctx.now())
        except Exception:  # the loop must outlive a database hiccup; the next turn retries
            logger.exception("starting scheduled campaigns failed")
        await asyncio.sleep(every)


def start_schedule(ctx: Context, jobs: Jobs, *, every: float | None = None) -> asyncio.Task[None]:
    """Look for due scheduled campaigns at start-up, then every `every` seconds (default
    CLEARPIXEL_SCHEDULE_CHECK_SECONDS) while the app serves; the lifespan cancels it."""
    every = every if every is not None else ctx.settings.schedule_check_seconds
    return asyncio.get_running_loop().create_task(_schedule_loop(ctx, jobs, every))


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel a housekeeping task and wait for it to end."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
