"""Outgoing webhooks: endpoints, the consent feed, and the delivery worker.

Events are queued as rows of `webhook_deliveries` in the transaction of the action that caused
them (bounce, complaint, suppression, unsubscribe), so the action never waits for a receiver.
Consent decisions are read from the consent ledger instead: each endpoint keeps the seq of
the last entry it was sent, and the feed turns the entries after it into events (the ledger is
append-only and ordered by seq, so no decision is missed or sent twice, and the consent code
needs no change). The worker (`serve`, or `clearpixel webhooks deliver`) posts due deliveries,
signed (`domain.webhooks`), logs each attempt, and retries failures with back-off.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from urllib.parse import urlsplit

from clearpixel.context import Context
from clearpixel.deliverability import targets
from clearpixel.domain.errors import N_, ClearpixelError
from clearpixel.domain.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    EventType,
    event_types,
    retry_delay,
    signature_header,
)
from clearpixel.store import webhooks as store
from clearpixel.store.ledger import iter_entries
from clearpixel.store.webhooks import Attempt, Delivery, Endpoint

LEASE = timedelta(minutes=2)
TIMEOUT = 10.0

# (url, body, headers) -> HTTP status; raises OSError when there is no answer
Post = Callable[[str, bytes, dict[str, str]], int]


def add_endpoint(ctx: Context, url: str, events: list[str]) -> Endpoint:
    """Register a receiver of `events`; its secret (to verify signatures) is generated here.
    Raises ClearpixelError for a URL that is not http(s), TargetRefused for one whose host
    webhooks may not reach (`deliverability.targets`)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClearpixelError(
            N_("webhook URL %(url)r: expected http:// or https://host/..."), url=url
        )
    if not events:
        raise ClearpixelError(N_("name at least one event (--events)"))
    targets.check_url(url.strip(), allow_private=ctx.settings.webhook_allow_private)
    chosen = sorted({e.value for e in event_types(events)})
    with ctx.db.begin() as tx:
        return store.add_endpoint(
            tx,
            url=url.strip(),
            secret="whsec_" + secrets.token_urlsafe(32),
            events=chosen,
            now=ctx.now(),
        )


def endpoints(ctx: Context) -> list[Endpoint]:
    with ctx.db.connect() as conn:
        return store.active_endpoints(conn)


def remove_endpoint(ctx: Context, endpoint_id: int) -> None:
    """Stop sending to it; its undelivered events are given up, its log stays."""
    with ctx.db.begin() as tx:
        store.remove_endpoint(tx, endpoint_id, now=ctx.now())


def delivery_log(ctx: Context, endpoint_id: int, *, limit: int = 100) -> list[Attempt]:
    with ctx.db.connect() as conn:
        store.get_endpoint(conn, endpoint_id)
        return store.attempts_for(conn, endpoint_id, limit=limit)


def feed_consent(ctx: Context, *, batch: int = 500) -> int:
    """Queue `consent.decision_recorded` events for ledger entries each subscribed endpoint
    has not had yet. Returns how many deliveries were queued."""
    queued = 0
    with ctx.db.connect() as conn:
        subscribed = any(
            EventType.CONSENT_DECISION in e.events for e in store.active_endpoints(conn)
        )
    if not subscribed:  # no write transaction (no lock) when nobody listens
        return 0
    with ctx.db.begin() as tx:
        for endpoint in store.active_endpoints(tx, for_update=True):
            if EventType.CONSENT_DECISION not in endpoint.events:
                continue
            entries = list(islice(iter_entries(tx, after=endpoint.ledger_seq, batch=batch), batch))
            for e in entries:
                queued += store.enqueue(
                    tx,
                    EventType.CONSENT_DECISION,
                    {
                        "ledger_seq": e.seq,
                        "contact_id": e.contact_id,
                        "list_id": e.list_id,
                        "email": e.email,
                        "method": e.method,
                        "granted": ctx.purposes.names_in(e.granted),
                        "revoked": ctx.purposes.names_in(e.revoked),
                        "purposes_now": ctx.purposes.names_in(e.flags_after),
                        "actor": e.actor,
                        "decided_at": e.at.isoformat(),
                    },
                    now=ctx.now(),
                    only=[endpoint],
                )
            if entries:
                store.set_ledger_seq(tx, endpoint.id, entries[-1].seq)
    return queued


@dataclass
class DeliveryRun:
    delivered: int = 0
    retried: int = 0
    given_up: int = 0


def deliver_due(ctx: Context, *, post: Post | None = None) -> DeliveryRun:
    """Post every delivery due now, once each, and record the attempt. Effects: attempt rows;
    each delivery delivered (2xx), rescheduled (`domain.webhooks.retry_delay`) or failed.
    A receiver webhooks may not reach (`deliverability.targets`) counts as a failed attempt
    whose error says why."""
    allow_private = ctx.settings.webhook_allow_private

    def http(url: str, body: bytes, headers: dict[str, str]) -> int:
        return targets.post(url, body, headers, timeout=TIMEOUT, allow_private=allow_private)

    send = post or http
    run = DeliveryRun()
    while True:
        now = ctx.now()
        with ctx.db.connect() as conn:
            if not store.has_due(conn, now=now):
                return run
        with ctx.db.begin() as tx:
            due = store.claim_due(tx, now=now, lease=LEASE)
        if not due:
            return run
        for delivery in due:
            _attempt(ctx, delivery, send, run)


def _attempt(ctx: Context, delivery: Delivery, send: Post, run: DeliveryRun) -> None:
    body = delivery.payload.encode("utf-8")
    now = ctx.now()
    stamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "clearpixel-webhooks",
        TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: signature_header(delivery.secret.encode(), stamp, body),
        "Clearpixel-Event": delivery.event_type,
        "Clearpixel-Delivery": delivery.event_id,
    }
    status: int | None = None
    error: str | None = None
    try:
        status = send(delivery.url, body, headers)
    except (OSError, ValueError, targets.TargetRefused) as exc:
        error = str(exc) or type(exc).__name__
    ok = status is not None and 200 <= status < 300
    if status is not None and not ok:
        error = f"HTTP {status}"
    wait = None if ok else retry_delay(delivery.attempts + 1)
    with ctx.db.begin() as tx:
        store.record_attempt(
            tx,
            delivery,
            now=ctx.now(),
            status_code=status,
            error=error,
            delivered=ok,
            retry_at=ctx.now() + wait if wait is not None else None,
        )
    if ok:
        run.delivered += 1
    elif wait is None:
        run.given_up += 1
    else:
        run.retried += 1


def run_once(ctx: Context, *, post: Post | None = None) -> DeliveryRun:
    """One pass of the worker: the consent feed, then every due delivery."""
    feed_consent(ctx)
    return deliver_due(ctx, post=post)


class Worker:
    """Runs `run_once` every `interval` seconds in a thread until `stop()`."""

    def __init__(self, ctx: Context, *, interval: float = 5.0) -> None:
        self.ctx = ctx
        self.interval = interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="clearpixel-webhooks", daemon=True)

    def start(self) -> Worker:
        self.thread.start()
        return self

    def _loop(self) -> None:
        import logging

        log = logging.getLogger("clearpixel.webhooks")
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                run_once(self.ctx)
            except Exception:  # the worker outlives a database outage; rows stay queued
                log.exception("webhook delivery pass failed")
            self.stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join()
