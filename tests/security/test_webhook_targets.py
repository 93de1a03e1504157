"""Outgoing webhook endpoints as a way in (SSRF): an admin, or anyone holding an admin key,
must not be able to make the server post to the services beside it. Loopback, private,
link-local (cloud metadata) and reserved targets, written as addresses or as names that
resolve to them, are refused when added (admin page and API) and again at delivery, where a
redirect is never followed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2

from clearpixel.deliverability import suppression, webhooks
from clearpixel.store import webhooks as webhook_store
from tests.deliverability.receiver import receiver
from tests.security.conftest import signed_in

INSIDE = [
    "http://127.0.0.1:5432/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:4222/",
    "http://localhost:4222/hook",
    "http://10.0.0.7/hook",
    "http://192.168.1.1/",
    "http://0.0.0.0:8000/",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://[::ffff:127.0.0.1]/",
    "http://[fe80::1]/",
    "http://100.64.0.1/",
]


def test_inside_targets_are_refused_when_added_and_nothing_is_stored(ctx, installation):
    admin = signed_in(installation, "admin")
    headers = {"Authorization": f"Bearer {installation.keys['admin']}"}
    for url in INSIDE:
        page = admin.post("/admin/webhooks", {"url": url, "events": "email.bounced"})
        assert page.status_code == 400, url
        assert "webhooks may not reach" in page.text and "nothing was added" in page.text
        api = httpx2.post(
            f"{installation.url}/api/v1/webhooks",
            json={"url": url, "events": ["email.bounced"]},
            headers=headers,
        )
        assert api.status_code == 400, url
        assert "CLEARPIXEL_WEBHOOK_ALLOW_PRIVATE" in api.json()["error"]["message"]
    assert webhooks.endpoints(ctx) == []
    # a public address, and a name that does not resolve (yet), are taken
    for url in ("https://1.1.1.1/hook", "https://crm.example.org/hook"):
        page = admin.post("/admin/webhooks", {"url": url, "events": "email.bounced"})
        assert page.status_code == 200 and "whsec_" in page.text
    assert len(webhooks.endpoints(ctx)) == 2


def _stored_endpoint(ctx, url: str) -> None:
    """An endpoint as one added before the rule, or whose name resolved elsewhere then."""
    with ctx.db.begin() as tx:
        webhook_store.add_endpoint(
            tx, url=url, secret="whsec_test", events=["address.suppressed"], now=ctx.now()
        )


def test_delivery_refuses_an_inside_target_and_logs_why(ctx):
    with receiver([200]) as hook:
        port = hook.url.split(":")[2].split("/")[0]
        _stored_endpoint(ctx, hook.url)
        _stored_endpoint(ctx, f"http://localhost:{port}/hooks")
        suppression.add(ctx, "ada@example.org", reason="manual", actor="tester")
        run = webhooks.deliver_due(ctx)
    assert hook.requests == []
    assert run.delivered == 0 and run.retried == 2
    for endpoint in webhooks.endpoints(ctx):
        (attempt,) = webhooks.delivery_log(ctx, endpoint.id)
        assert "loopback" in (attempt.error or "")


@contextmanager
def redirecting(to: str) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(307)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_is_an_answer_never_followed(ctx):
    ctx.settings = ctx.settings.model_copy(update={"webhook_allow_private": True})
    with receiver([200]) as inside, redirecting(inside.url) as outside:
        _stored_endpoint(ctx, outside)
        suppression.add(ctx, "ada@example.org", reason="manual", actor="tester")
        run = webhooks.deliver_due(ctx)
    assert inside.requests == []
    assert run.retried == 1
    (endpoint,) = webhooks.endpoints(ctx)
    (attempt,) = webhooks.delivery_log(ctx, endpoint.id)
    assert attempt.status_code == 307 and attempt.error == "HTTP 307"


def test_allowed_private_targets_are_reached(ctx):
    ctx.settings = ctx.settings.model_copy(update={"webhook_allow_private": True})
    with receiver([200]) as hook:
        webhooks.add_endpoint(ctx, hook.url, ["address.suppressed"])
        suppression.add(ctx, "ada@example.org", reason="manual", actor="tester")
        assert webhooks.deliver_due(ctx).delivered == 1
    assert len(hook.requests) == 1
