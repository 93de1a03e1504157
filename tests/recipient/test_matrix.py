"""What each recipient gets, for every message kind x tracking mode x locale, sent through
the real send path (outbox; SMTP via aiosmtpd for the addresses) from a realistic newsletter.

Each .eml is parsed with Python's `email` package: To and From parse back to the contact's
and the sender's address (a non-ASCII domain and a non-ASCII local part included), headers
carry no defect, and the text part has the same links as the HTML. Each HTML part is opened in
real Chromium against the running server, with every request recorded: the footer's visible
text holds no markup, each footer link is a real link that answers 200 through the server,
and the requests the email makes by itself are exactly those its mode allows (personal: that
recipient's pixel; anonymous: the campaign's one pixel, the same for everyone; deliverability:
its pixel; none and consent requests: nothing to the platform). One database, one server and
one browser serve the whole matrix."""

from __future__ import annotations

import email
import email.policy
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import idna
import pytest

from clearpixel.config import Settings
from clearpixel.context import Context, open_context
from clearpixel.domain.policy import TrackingMode
from clearpixel.domain.tokens import TokenKind
from clearpixel.sending import campaigns
from clearpixel.sending.transports import OutboxTransport, SmtpConfig, SmtpTransport
from clearpixel.store.purposes import sync_purposes
from clearpixel.store.sends import get_send
from clearpixel.web.server import ThreadedServer
from tests.conftest import FIXED_NOW, TEST_KEY, fresh_database
from tests.helpers import make_list
from tests.recipient.newsletter import CONSENT_REQUEST, NEWSLETTER
from tests.sending.conftest import Handler, SmtpServer, add_contacts

FROM = "The Dispatch <news@dispatch.example.org>"
PEOPLE = [
    ("ada@example.org", 1, "en"),
    ("zoe@example.org", 3, "fr"),
    ("bob@example.org", None, "en"),
    ("lea@example.org", 0, "fr"),
    ("anna@bücher.example", None, "en"),  # non-ASCII domain
    ("jörg@bücher.example", None, "fr"),  # non-ASCII local part (SMTPUTF8)
]
# (kind, settings that choose the mode, modes the cell covers)
SENDS = [
    ("marketing", {}, ("personal", "anonymous")),
    ("marketing", {"nonconsent_mode": TrackingMode.DELIVERABILITY}, ("deliverability",)),
    ("marketing", {"nonconsent_mode": TrackingMode.NONE}, ("none",)),
    ("transactional", {}, ("personal",)),
    ("transactional", {"transactional_mode": TrackingMode.ANONYMOUS}, ("anonymous",)),
    ("security", {}, ("anonymous",)),
    ("security", {"security_mode": TrackingMode.NONE}, ("none",)),
    ("consent_request", {}, ("none",)),
]
CELLS = [
    (kind, mode, locale) for kind, _, modes in SENDS for mode in modes for locale in ("en", "fr")
]
FOOTER_TEXT = {
    ("personal", "en"): "Stop tracking my opens",
    ("personal", "fr"): "Ne plus suivre mes ouvertures",
    ("other", "en"): "Refuse open tracking",
    ("other", "fr"): "Refuser le suivi des ouvertures",
}

pytestmark = pytest.mark.browser


@dataclass
class Received:
    kind: str
    mode: str
    locale: str
    email: str
    contact_id: int
    public_id: str
    data: bytes


@dataclass
class World:
    ctx: Context
    server: ThreadedServer
    messages: list[Received]

    def cell(self, kind: str, mode: str, locale: str) -> list[Received]:
        found = [m for m in self.messages if (m.kind, m.mode, m.locale) == (kind, mode, locale)]
        assert found, f"no message in cell {kind}/{mode}/{locale}"
        return found


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("recipient-db")) as url:
        yield url


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[World]:
    data = tmp_path_factory.mktemp("recipient-data")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data,
        database_url=database,
        secret_keys=[TEST_KEY],
        organisation="The <Dispatch> & Co",
    )
    ctx = open_context(settings)
    ctx.now = lambda: FIXED_NOW
    with ctx.db.begin() as tx:
        sync_purposes(tx, ctx.purposes)
    with ThreadedServer(ctx) as server:
        base = settings.model_copy(update={"base_url": server.url})
        ctx.settings = base
        list_id = make_list(ctx)
        ids = add_contacts(
            ctx,
            list_id,
            [
                (e, f, {"first_name": e.split("@")[0].title(), "locale": loc})
                for e, f, loc in PEOPLE
            ],
        )
        locales = {e: loc for e, _, loc in PEOPLE}
        messages: list[Received] = []
        for kind, overrides, _ in SENDS:
            ctx.settings = base.model_copy(update=overrides)
            campaign = campaigns.create_campaign(
                ctx,
                list_name="newsletter",
                kind=kind,
                subject="Nouvelles · News for {{ first_name }}",
                html=CONSENT_REQUEST if kind == "consent_request" else NEWSLETTER,
                from_addr=FROM,
            )
            box = data / "outbox" / campaign.public_id
            campaigns.send_campaign(ctx, campaign.id, OutboxTransport(box))
            with ctx.db.connect() as conn:
                for address, cid in ids.items():
                    row = get_send(conn, campaign.id, cid)
                    if row is None or row["status"] != "sent":
                        continue
                    messages.append(
                        Received(
                            kind,
                            row["mode"],
                            locales[address],
                            address,
                            cid,
                            campaign.public_id,
                            (box / f"{cid}.eml").read_bytes(),
                        )
                    )
        ctx.settings = base
        yield World(ctx, server, messages)
    ctx.db.dispose()


@pytest.fixture(scope="module")
def chromium(request: pytest.FixtureRequest, browser_type_launch_args: dict[str, Any]) -> Any:
    """One Chromium for the whole matrix, stopped with the module: pytest-playwright's
    session browser would keep its event loop running in the main thread for the tests that
    follow, which then cannot call asyncio.run (when a session browser already runs, that
    one is shared)."""
    import asyncio

    from playwright.sync_api import sync_playwright

    if asyncio._get_running_loop() is not None:
        yield request.getfixturevalue("browser")
        return
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**browser_type_launch_args)
        yield browser
        browser.close()


def _parse(data: bytes) -> EmailMessage:
    """The message as bytes (8bit bodies decoded as their charset says)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _headers(data: bytes) -> EmailMessage:
    """The headers as an RFC 6532 reader takes them: UTF-8 (Python's bytes parser reads
    them as ASCII and mangles a UTF-8 local part)."""
    head = data.decode("utf-8").split("\r\n\r\n", 1)[0] + "\r\n\r\n"
    message = email.message_from_string(head, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _address(header: Any) -> str:
    [address] = header.addresses
    return f"{address.username}@{idna.decode(address.domain)}"


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


HREF = re.compile(r"""href="([^"]+)\"""")
URL = re.compile(r"https?://[^\s)<>\"]+")


@pytest.mark.parametrize(("kind", "mode", "locale"), CELLS)
def test_the_eml_parses_back_to_the_right_people_and_links(world, kind, mode, locale):
    for received in world.cell(kind, mode, locale):
        headers = _headers(received.data)
        message = _parse(received.data)
        assert _address(headers["To"]) == received.email
        assert _address(headers["From"]) == "news@dispatch.example.org"
        assert headers["From"].addresses[0].display_name == "The Dispatch"
        assert str(headers["Subject"]).endswith(received.email.split("@")[0].title())
        for name in ("To", "From", "Subject", "Message-ID", "Date"):
            defects = [
                d
                for d in headers[name].defects
                # RFC 6532 allows a UTF-8 local part; Python's parser still flags one
                if not (
                    received.email.split("@")[0] == "jörg"
                    and type(d).__name__ == "NonASCIILocalPartDefect"
                )
            ]
            assert not defects, (name, defects)
        assert not message.defects
        html, text = _body(message, "html"), _body(message, "plain")
        html_links = {u for u in HREF.findall(html) if u.startswith("http")}
        html_links = {u.replace("&amp;", "&") for u in html_links}
        assert html_links, "every message has links"
        assert html_links <= set(URL.findall(text)), "the text part carries the same links"
        if kind == "marketing":
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def _open(world: World, browser: Any, html: str) -> tuple[Any, list[str]]:
    """The HTML part in a fresh Chromium page; returns (page, every URL it requested)."""
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    def route(route: Any) -> None:
        if route.request.url.startswith(world.server.url):
            route.continue_()
        else:  # the newsletter's own images: answered here, recorded all the same
            route.fulfill(status=200, body=b"", content_type="image/png")

    page.route("**/*", route)
    page.set_content(html, wait_until="load")
    return page, requested


def _pixel_kind(world: World, url: str) -> tuple[TokenKind, int]:
    token = url.rsplit("/", 1)[1].removesuffix(".gif")
    parsed = world.ctx.signer.verify_one_of(token, [TokenKind.PIXEL, TokenKind.DELIVERABILITY])
    return parsed.kind, parsed.contact_id


@pytest.mark.parametrize(("kind", "mode", "locale"), CELLS)
def test_what_the_recipient_sees_and_loads_in_chromium(
    world, chromium, artifacts_dir, kind, mode, locale
):
    base = world.server.url
    others: set[tuple[str, ...]] = set()
    anonymous: set[tuple[str, ...]] = set()
    for received in world.cell(kind, mode, locale):
        html = _body(_parse(received.data), "html")
        page, requested = _open(world, chromium, html)
        try:
            platform = [u for u in requested if u.startswith(base)]
            others.add(tuple(sorted(u for u in requested if not u.startswith(base))))
            if mode == "personal":
                [pixel] = platform
                assert _pixel_kind(world, pixel) == (TokenKind.PIXEL, received.contact_id)
            elif mode == "deliverability":
                [pixel] = platform
                assert _pixel_kind(world, pixel) == (
                    TokenKind.DELIVERABILITY,
                    received.contact_id,
                )
            elif mode == "anonymous":
                assert platform == [f"{base}/o/a/{received.public_id}.gif"]
                anonymous.add(tuple(platform))
            else:
                assert platform == [], "none and consent requests load nothing of the platform"
            visible = page.locator("body").inner_text()
            shown = visible.replace("The <Dispatch> & Co", "")  # the organisation's own name
            for markup in ("<", ">", "&lt;", "&gt;", "&#34;", "&amp;", "\ufffd"):
                assert markup not in shown, f"markup shows as text: {markup!r}"
            footer_links = page.locator(
                f"a[href^='{base}/preferences/'], a[href^='{base}/unsubscribe/'], "
                f"a[href^='{base}/consent/']"
            )
            hrefs = [footer_links.nth(i).get_attribute("href") for i in range(footer_links.count())]
            expected = {
                "marketing": {"preferences", "unsubscribe"},
                "consent_request": {"consent", "unsubscribe"},
            }.get(kind, {"preferences"} if mode in ("personal", "deliverability") else set())
            assert {h.removeprefix(base + "/").split("/")[0] for h in hrefs} == expected
            if expected:
                assert "You receive this email from The <Dispatch> & Co." in visible or (
                    "Vous recevez cet e-mail de la part de The <Dispatch> & Co." in visible
                )
            for href in hrefs:
                answer = page.request.get(href)
                assert answer.status == 200, href
            if "preferences" in expected:
                wording = FOOTER_TEXT[("personal" if mode == "personal" else "other", locale)]
                link = page.get_by_role("link", name=wording)
                assert link.count() == 1
                assert link.get_attribute("href").startswith(f"{base}/preferences/")
                assert link.evaluate("a => a.closest('body') !== null && !a.closest('a a')")
            if os.environ.get("CLEARPIXEL_MATRIX_SCREENSHOTS"):
                page.screenshot(
                    path=str(Path(artifacts_dir) / f"mail-{kind}-{mode}-{locale}.png"),
                    full_page=True,
                )
        finally:
            page.close()
    assert len(others) == 1, "what the template loads is the same for every recipient"
    if mode == "anonymous":
        assert len(anonymous) == 1, "one anonymous pixel for the whole campaign"


def test_the_addresses_over_smtp_with_smtputf8(world):
    server = SmtpServer(Handler(), enable_SMTPUTF8=True)
    server.controller.start()
    try:
        campaign = campaigns.create_campaign(
            world.ctx,
            list_name="newsletter",
            kind="marketing",
            subject="SMTP",
            html=NEWSLETTER,
            from_addr=FROM,
        )
        report = campaigns.send_campaign(
            world.ctx, campaign.id, SmtpTransport(SmtpConfig.parse(server.url))
        )
        assert report.failed == 0
        by_rcpt = {m.recipients[0]: m.data for m in server.messages}
        for address, _, _ in PEOPLE:
            local, domain = address.split("@")
            message = _headers(by_rcpt[f"{local}@{idna.encode(domain).decode()}"])
            assert _address(message["To"]) == address
    finally:
        server.controller.stop()
