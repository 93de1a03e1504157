"""A preview (admin page, API) or a test message sent to any address must not hand out a
contact's working links: an editor who could open a contact's preference page or one-click
unsubscribe would change that contact's choices, and the ledger would record them as the
contact's own (R18). Preview and test tokens keep their place and shape but open nothing;
the contact's real email still works."""

from __future__ import annotations

import html
import re

import httpx2

from clearpixel.audience import contacts as contact_service
from clearpixel.consent import record_decision
from clearpixel.domain.ledger import Method
from clearpixel.sending import campaigns as sending
from clearpixel.sending.transports import OutboxTransport
from tests.security.conftest import signed_in

LINKS = re.compile(
    r"https://mail\.example\.test(/(?:preferences|unsubscribe|o|c)/[A-Za-z0-9_.\-]+)"
)
HTML = '<p>Hello</p><p><a href="https://shop.example.org/autumn">Sale</a></p>'


def _campaign(ctx, installation):
    ann = installation.contacts["ann"]
    record_decision(
        ctx.db, ann, granted=1, method=Method.ADMIN, now=ctx.now(), cooldown=ctx.cooldown,
        actor="admin:admin", evidence={"note": "asked at the counter"},
    )  # fmt: skip
    return sending.create_campaign(
        ctx, list_name="news", kind="marketing", subject="News", html=HTML
    )


def _paths(text: str) -> set[str]:
    found = set(LINKS.findall(html.unescape(text).replace("=\n", "")))
    assert any(p.startswith("/preferences/") for p in found), text[:3000]
    assert any(p.startswith("/unsubscribe/") for p in found)
    return found


def _inert(installation, paths: set[str]) -> None:
    public = httpx2.Client(base_url=installation.url, timeout=30)
    try:
        for path in sorted(paths):
            if path.startswith("/preferences/"):
                assert public.get(path).status_code == 400, path
            if path.startswith("/unsubscribe/"):
                public.post(path, data={"List-Unsubscribe": "One-Click"})
    finally:
        public.close()


def test_previews_and_tests_carry_tokens_that_open_nothing(ctx, installation, tmp_path):
    campaign = _campaign(ctx, installation)
    editor = signed_in(installation, "ed@example.org")
    page = editor.get(f"/admin/campaigns/{campaign.id}/preview?email=ann@example.org")
    assert page.status_code == 200
    seen = _paths(page.text)
    api = httpx2.post(
        f"{installation.url}/api/v1/campaigns/{campaign.id}/preview",
        json={"email": "ann@example.org"},
        headers={"Authorization": f"Bearer {installation.keys['editor']}"},
    )
    seen |= _paths(api.json()["mime"])
    tested = editor.post(
        f"/admin/campaigns/{campaign.id}/test",
        {"sample": "ann@example.org", "to": "outsider@elsewhere.example"},
    )
    assert tested.status_code == 303
    (mail,) = (ctx.settings.data_dir / "outbox" / "tests").glob("*.eml")
    tokens = set(LINKS.findall(mail.read_text().replace("=\n", "").replace("=3D", "=")))
    assert any(p.startswith("/unsubscribe/") for p in tokens)
    _inert(installation, seen | tokens)
    ann = contact_service.get_contact(ctx, installation.contacts["ann"])
    assert ann.status == "subscribed" and ann.privacy_flags == 1

    # the email the contact really gets opens its preference page
    box = tmp_path / "outbox"
    sending.send_campaign(ctx, campaign.id, OutboxTransport(box))
    (real,) = box.glob("*.eml")
    mine = {p for p in LINKS.findall(real.read_text().replace("=\n", "").replace("=3D", "="))}
    (preferences,) = [p for p in mine if p.startswith("/preferences/")]
    assert httpx2.get(installation.url + preferences).status_code == 200
