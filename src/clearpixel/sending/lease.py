"""The send lease: one process at a time sends a campaign. `delivery.send` takes the lease
before anything is recorded, renews it while it sends and gives it back at the end; a second
sender (another `campaign send`, the admin's button, the schedule) is refused while it runs.
When the sending process dies its lease runs out after `SEND_LEASE`: the campaign, still
`sending`, is then stalled, and any sender may resume it (the admin offers to)."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from datetime import datetime, timedelta

from clearpixel.context import Context
from clearpixel.domain.errors import N_, ClearpixelError
from clearpixel.store import campaigns as campaign_store
from clearpixel.store.campaigns import Campaign

SEND_LEASE = timedelta(minutes=2)
RENEW_EVERY = 30.0  # seconds: well inside the lease, so a busy sender never loses it


class SendBusy(ClearpixelError):
    """Another process is sending the campaign."""


def holder_name() -> str:
    """Who holds a lease: this machine, this process, and a nonce for this send."""
    return f"{socket.gethostname()[:48]}:{os.getpid()}:{secrets.token_hex(4)}"


def stalled(campaign: Campaign, now: datetime) -> bool:
    """A campaign left `sending` by a process that is gone: nobody's lease runs."""
    until = campaign.send_lease_until
    return campaign.status == campaign_store.SENDING and (until is None or until < now)


def take(ctx: Context, campaign_id: int, holder: str) -> None:
    """Take the lease for `holder`, also from a process of this machine that is gone (a
    send resumed right after a kill -9); raises SendBusy when another sender holds it."""
    now = ctx.now()
    until = now + SEND_LEASE
    with ctx.db.begin() as tx:
        if campaign_store.take_send_lease(tx, campaign_id, holder, now=now, until=until):
            return
        current = campaign_store.send_lease_holder(tx, campaign_id)
        if (
            current
            and _gone(current)
            and campaign_store.take_send_lease(
                tx, campaign_id, holder, now=now, until=until, replacing=current
            )
        ):
            return
    raise SendBusy(
        N_(
            "campaign %(id)s is being sent by another process right now; wait for it to "
            "finish, or cancel it"
        ),
        id=campaign_id,
    )


def _gone(holder: str) -> bool:
    """Whether `holder` names a process of this machine that no longer runs."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:48] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def release(ctx: Context, campaign_id: int, holder: str) -> None:
    with ctx.db.begin() as tx:
        campaign_store.release_send_lease(tx, campaign_id, holder)


async def keep(ctx: Context, campaign_id: int, holder: str, lost: list[Exception]) -> None:
    """Renew the lease every RENEW_EVERY seconds until cancelled; when another sender took
    it over (this process was stopped longer than the lease), say so in `lost` and end."""
    while True:
        await asyncio.sleep(RENEW_EVERY)
        now = ctx.now()
        with ctx.db.begin() as tx:
            held = campaign_store.take_send_lease(
                tx, campaign_id, holder, now=now, until=now + SEND_LEASE
            )
        if not held:
            lost.append(SendBusy(N_("another process took over the send")))
            return
