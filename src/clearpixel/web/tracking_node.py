"""The tracking role (`clearpixel serve --role tracking`): a stateless node that answers only
`/o/`, `/c/`, `/healthz` and `/metrics`, with no database.

It verifies, classifies and drops what R17 says to drop exactly as the whole app does (the
same `TrackingEndpoints`), hands its batches to the JetStream sink, and reads click URLs from
the links bucket. Everything else answers 404. `/healthz` is "degraded" (503) while batches
wait in the local spill file because NATS does not take them; `/metrics` gives the same
numbers in Prometheus' text format.
"""

from __future__ import annotations

import json
import logging

from starlette.types import Receive, Scope, Send

from clearpixel.context import Context
from clearpixel.ingest.links import LinkSource
from clearpixel.ingest.sinks import BatchSink
from clearpixel.ingest.tracker import Tracker
from clearpixel.web.tracking import TrackingEndpoints

log = logging.getLogger("clearpixel.web.tracking")


class TrackingNode:
    """The ASGI app of a tracking node (lifespan included)."""

    def __init__(self, ctx: Context, *, sink: BatchSink, links: LinkSource) -> None:
        self.tracking = TrackingEndpoints(Tracker(ctx, sink=sink, links=links))
        self.sink = sink

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if self.tracking.handles(path):
            await self.tracking(scope, receive, send)
        elif path == "/healthz":
            status, body = self.health()
            await _answer(send, status, b"application/json", json.dumps(body).encode())
        elif path == "/metrics":
            await _answer(send, 200, b"text/plain; version=0.0.4", self.metrics().encode())
        else:
            await _answer(send, 404, b"text/plain; charset=utf-8", b"not found\n")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.tracking.start()
                except Exception as exc:
                    log.exception("tracking node did not start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.tracking.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def health(self) -> tuple[int, dict[str, object]]:
        """(status, body): ok while batches go out as they are cut."""
        waiting = self.sink.pending()
        body: dict[str, object] = {
            "status": "degraded" if waiting else "ok",
            "role": "tracking",
            "ingest": {
                "mode": self.sink.mode,
                "queued_hits": len(self.tracking.tracker.buffer),
                "batches_waiting_on_disk": waiting,
            },
        }
        return (503 if waiting else 200), body

    def metrics(self) -> str:
        """Counters and gauges in Prometheus' text format."""
        buffer = self.tracking.tracker.buffer
        values = [
            ("clearpixel_hits_queued", "gauge", len(buffer)),
            ("clearpixel_batches_delivered_total", "counter", self.sink.delivered_batches),
            ("clearpixel_batches_spilled_total", "counter", self.sink.spilled_batches),
            ("clearpixel_batches_waiting_on_disk", "gauge", int(self.sink.pending())),
        ]
        lines = []
        for name, kind, value in values:
            lines += [f"# TYPE {name} {kind}", f"{name} {value}"]
        return "\n".join(lines) + "\n"


async def _answer(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
