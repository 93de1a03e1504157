"""A person with data in every table that can hold personal data, built through the real
services (ledger with notice and web evidence, attributes in two lists, a send, a consent
request, personal opens and clicks with IP and user agent, a last-open date), and a second
person with the same kinds of data, so a test can prove one never shows in the other's output."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from clearpixel.consent import record_decision
from clearpixel.consent.evidence import web_evidence
from clearpixel.consent.notices import current_notice
from clearpixel.context import Context
from clearpixel.domain.ledger import Method
from clearpixel.ingest.tracker import Tracker
from clearpixel.store.consent_requests import record_view
from clearpixel.store.contacts import insert_contacts
from clearpixel.store.lists import UnknownList, create_list, get_list
from tests.ingest.builders import (
    click_token,
    deliverability_token,
    make_campaign,
    make_send,
    pixel_token,
)


@dataclass(frozen=True)
class Person:
    email: str
    secret: str  # a distinctive attribute value
    ip: str  # the IP the person's browser used (stored truncated)
    user_agent: str  # distinctive
    contact_ids: tuple[int, int]  # in "newsletter", then in "events"


def _list(ctx: Context, name: str) -> int:
    with ctx.db.begin() as tx:
        try:
            return get_list(tx, name).id
        except UnknownList:
            return create_list(tx, name, now=ctx.now()).id


def populate(ctx: Context, email: str, secret: str, *, ip: str, tag: str) -> Person:
    """`email` in two lists with `secret` as an attribute, consent with a notice and web
    evidence, a marketing send, a consent request seen, personal opens and a click with `ip`
    and a user agent naming `tag`, and a deliverability hit (last-open date)."""
    newsletter, events = _list(ctx, "newsletter"), _list(ctx, "events")
    user_agent = f"Mozilla/5.0 (X11; Linux x86_64) Thunderbird/115.3 {tag}"
    with ctx.db.begin() as tx:
        ids = insert_contacts(
            tx,
            [
                {"list_id": newsletter, "email": email, "attributes": {"nickname": secret}},
                {"list_id": events, "email": email, "attributes": {"city": secret + "-city"}},
            ],
            now=ctx.now(),
        )
        notice = current_notice(tx, ctx, "open_tracking", "fr")
    for cid in ids:
        record_decision(
            ctx.db,
            cid,
            granted=1,
            method=Method.SIGNUP_FORM,
            now=ctx.now(),
            cooldown=ctx.cooldown,
            notice_id=notice.id,
            notice_sha256=notice.sha256,
            evidence=web_evidence(
                ip=ip, user_agent=user_agent, page_url="https://example.org/join"
            ),
        )
    campaign_id, _ = make_campaign(ctx, newsletter, name=f"News for {tag}")
    request_id, _ = make_campaign(ctx, newsletter, name=f"Ask {tag}", kind="consent_request")
    make_send(ctx, campaign_id, ids[0])
    make_send(ctx, request_id, ids[0], kind="consent_request", mode="none", purposes=0)
    with ctx.db.begin() as tx:
        record_view(tx, request_id, ids[0], now=ctx.now())
    tracker = Tracker(ctx)
    tracker.pixel(pixel_token(ctx, campaign_id, ids[0]), ip, user_agent, [])
    tracker.pixel(deliverability_token(ctx, campaign_id, ids[1]), ip, user_agent, [])

    async def click() -> None:
        await tracker.links.load()
        assert await tracker.click(click_token(ctx, campaign_id, ids[0], 1), ip, user_agent, [])

    with ThreadPoolExecutor(1) as thread:  # its own event loop, whoever runs one here
        thread.submit(asyncio.run, click()).result()
    tracker.buffer.flush_now()
    return Person(email, secret, ip, user_agent, (ids[0], ids[1]))
