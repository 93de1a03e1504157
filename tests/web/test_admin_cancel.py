"""A send started from the admin is cancelled while it runs, stops cleanly, and resumes from
the admin: every recipient gets exactly one message, through a real SMTP server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi.testclient import TestClient

from clearpixel.accounts import users
from clearpixel.context import Context
from clearpixel.sending import campaigns as sending
from clearpixel.web.app import create_app
from tests.helpers import make_contacts, make_list
from tests.sending.conftest import Handler, SmtpServer
from tests.web.admin_session import csrf_of, sign_in

PASSWORD = "cancel passphrase"


class SlowHandler(Handler):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


def wait_for(client: TestClient, campaign_id: int, done) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        progress = client.get(f"/admin/campaigns/{campaign_id}/progress").json()
        if done(progress):
            return progress
        assert time.monotonic() < deadline, progress
        time.sleep(0.02)


def test_a_running_send_is_cancelled_and_resumed_from_the_admin(ctx):
    smtp = SmtpServer(SlowHandler())
    smtp.controller.start()
    try:
        list_id = make_list(ctx)
        make_contacts(ctx, list_id, [1, None] * 150)  # the sender looks at the status every 100
        campaign = sending.create_campaign(
            ctx, list_name="newsletter", kind="marketing", subject="News", html="<p>Hi</p>"
        )
        users.create_user(ctx, "eddie@example.org", role="editor", password=PASSWORD)
        served = Context(
            settings=ctx.settings.model_copy(update={"smtp_url": smtp.url}), db=ctx.db, now=ctx.now
        )
        with TestClient(create_app(served), base_url="http://127.0.0.1") as client:
            sign_in(client, "eddie@example.org", PASSWORD)
            token = csrf_of(client.get(f"/admin/campaigns/{campaign.id}").text)
            client.post(f"/admin/campaigns/{campaign.id}/send", data={"csrf": token})
            wait_for(client, campaign.id, lambda p: p["recipients"].get("sent", 0) >= 2)
            client.post(f"/admin/campaigns/{campaign.id}/cancel", data={"csrf": token})
            stopped = wait_for(client, campaign.id, lambda p: p["job"]["finished"])
            assert stopped["status"] == "cancelled" and stopped["job"]["error"] is None
            assert 2 <= stopped["recipients"].get("sent", 0) < 300
            page = client.get(f"/admin/campaigns/{campaign.id}")
            assert "Resume the send" in page.text
            client.post(f"/admin/campaigns/{campaign.id}/send", data={"csrf": token})
            finished = wait_for(
                client, campaign.id, lambda p: p["job"]["finished"] and p["status"] != "cancelled"
            )
        assert finished["status"] == "sent", finished
        assert finished["recipients"] == {"sent": 300}
        recipients = [r for m in smtp.messages for r in m.recipients]
        assert len(recipients) == 300 and len(set(recipients)) == 300
    finally:
        smtp.controller.stop()
