"""The hit path's service: verify a token, classify the requester, queue a small record.

No database on the request path for pixels. Bad tokens are counted and answered like any
other hit by the web layer; nothing is attributed to anyone (R12). The requester's IP address
and user agent serve the classification here and go no further (R17, R20): whatever the
contact's consent, the hit handed on names the verdict, never who made the request, so no
buffer, spill file, journal or event can hold them.
"""

from __future__ import annotations

import gc
import logging
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from clearpixel.context import Context, utc_now
from clearpixel.domain.events import DropReason, Hit, HitSource
from clearpixel.domain.modes import PIXEL_TOKEN_KINDS, pixel_hit_source
from clearpixel.domain.tokens import TokenError, TokenKind
from clearpixel.ingest.buffer import HitBuffer
from clearpixel.ingest.classify import Classifier, Rules, load_rules
from clearpixel.ingest.links import DatabaseLinks, LinkCache, LinkSource, safe_location
from clearpixel.ingest.pipeline import Pipeline
from clearpixel.ingest.sinks import BatchSink, in_process
from clearpixel.ingest.worker import IngestWorker

log = logging.getLogger("clearpixel.ingest")
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def build_pipeline(ctx: Context, rules: Rules | None = None) -> Pipeline:
    """The ingest pipeline of this installation (its timing rules from the data folder)."""
    rules = rules or load_rules(ctx.settings.data_dir)
    return Pipeline(
        ctx.db,
        ctx.policy,
        now=ctx.now,
        scanner_window=rules.scanner_window_seconds,
        ip_version=rules.ip_version,
    )


def build_worker(ctx: Context) -> IngestWorker:
    """The ingest worker for this installation's spill folder (`clearpixel ingest`)."""
    return IngestWorker(build_pipeline(ctx).ingest, spill_dir(ctx))


def spill_dir(ctx: Context) -> Path:
    """The folder of this installation's spill files, journal and local file queue."""
    return ctx.settings.data_dir / "spill"


def in_process_sink(ctx: Context) -> BatchSink:
    """The embedded default: batches ingested by this process, in the buffer's thread."""
    return in_process(build_pipeline(ctx).ingest, spill_dir(ctx))


class Tracker:
    """Pixel and click hits for one installation: verification, classification, buffer.

    Batches go to `sink` (default: ingested in this process); click URLs come from `links`
    (default: the database)."""

    def __init__(
        self,
        ctx: Context,
        *,
        sink: BatchSink | None = None,
        links: LinkSource | None = None,
        interval: float = 0.1,
        max_batch: int = 2000,
    ) -> None:
        self.ctx = ctx
        self.signer = ctx.signer
        self.classifier = Classifier(load_rules(ctx.settings.data_dir))
        self.sink = sink if sink is not None else in_process_sink(ctx)
        self.buffer = HitBuffer(self.sink, interval=interval, max_batch=max_batch)
        self.links = LinkCache(links if links is not None else DatabaseLinks(ctx.db))

    async def start(self) -> None:
        # Everything loaded so far lives as long as the process: out of the collector's
        # sight, so the hits queued between flushes do not trigger full collections of it.
        gc.freeze()
        if self.sink.mode in ("thread", "nats"):
            # The sink's thread (ingest, or encoding and publishing) shares the interpreter
            # with the event loop: hand the GIL back every millisecond (default 5 ms) so a
            # batch never holds answers back.
            sys.setswitchinterval(0.001)
        await self.buffer.start()
        try:
            await self.links.load()
        except Exception:  # the database may be down at start; misses will read later
            log.exception("could not preload links")

    async def stop(self) -> None:
        """Flush the last hits to the sink and close it."""
        await self.buffer.stop()

    def _at(self) -> float:
        """Now, in unix seconds (the context's clock; time.time() itself when it is the
        real one: a datetime per hit costs a microsecond)."""
        now = self.ctx.now
        return time.time() if now is utc_now else now().timestamp()

    def pixel(
        self, token: str, ip: str, user_agent: str, headers: Iterable[tuple[bytes, bytes]]
    ) -> None:
        """A personal or deliverability pixel hit."""
        try:
            proof = self.signer.verify_one_of(token, PIXEL_TOKEN_KINDS)
        except TokenError:
            self.buffer.count_drop(DropReason.BAD_TOKEN)
            return
        source = pixel_hit_source(proof.kind)
        at = self._at()
        verdict = self.classifier.classify(
            ip=ip,
            user_agent=user_agent,
            headers=headers,
            message=(proof.campaign_id, proof.contact_id),
            at=at,
        )
        self.buffer.add(
            Hit(
                source=source,
                at=at,
                campaign_id=proof.campaign_id,
                contact_id=proof.contact_id,
                purposes=proof.purposes,
                verdict=verdict.verdict,
                reason=verdict.reason,
                rule=verdict.rule,
                scanner_net=verdict.scanner_net,
            )
        )

    def anonymous_pixel(
        self, public_id: str, ip: str, user_agent: str, headers: Iterable[tuple[bytes, bytes]]
    ) -> None:
        """The campaign-wide anonymous pixel: counted, nothing about the requester kept."""
        if not PUBLIC_ID.fullmatch(public_id):
            self.buffer.count_drop(DropReason.BAD_TOKEN)
            return
        at = self._at()
        verdict = self.classifier.classify(ip=ip, user_agent=user_agent, headers=headers, at=at)
        self.buffer.add(
            Hit(
                source=HitSource.ANONYMOUS,
                at=at,
                public_id=public_id,
                verdict=verdict.verdict,
                reason=verdict.reason,
                rule=verdict.rule,
                scanner_net=verdict.scanner_net,
            )
        )

    async def click(
        self,
        token: str,
        ip: str,
        user_agent: str,
        headers: Iterable[tuple[bytes, bytes]],
        *,
        record: bool = True,
    ) -> str | None:
        """The registered URL to redirect to (R13), or None (forged or unknown link).

        Only the signed token's (campaign, link) pair selects the URL; nothing else of the
        request is used. Raises LinkUnavailable if the link must be read and cannot be."""
        try:
            proof = self.signer.verify(token, TokenKind.CLICK)
        except TokenError:
            self.buffer.count_drop(DropReason.BAD_TOKEN)
            return None
        url = await self.links.url(proof.campaign_id, proof.link_id)
        location = safe_location(url) if url is not None else None
        if location is None:
            self.buffer.count_drop(DropReason.UNKNOWN_LINK)
            return None
        if record:
            at = self._at()
            verdict = self.classifier.classify(
                ip=ip,
                user_agent=user_agent,
                headers=headers,
                message=(proof.campaign_id, proof.contact_id),
                at=at,
            )
            self.buffer.add(
                Hit(
                    source=HitSource.CLICK,
                    at=at,
                    campaign_id=proof.campaign_id,
                    contact_id=proof.contact_id,
                    link_id=proof.link_id,
                    verdict=verdict.verdict,
                    reason=verdict.reason,
                    rule=verdict.rule,
                    scanner_net=verdict.scanner_net,
                )
            )
        return location
