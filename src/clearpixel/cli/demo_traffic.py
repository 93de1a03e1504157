"""Simulated recipients for `clearpixel demo`: real HTTP requests to the real endpoints.

Each message in the outbox is read like a mail client would: its pixel, links, preference and
consent links are taken from the HTML. Recipients then behave in a seeded, repeatable way:
people open (Thunderbird, Outlook, Apple Mail, Gmail's image proxy), Apple Mail Privacy
Protection and security gateways fetch pixels and links, some people click, some accept or
refuse a consent request, some leave the consent page without answering, and some withdraw
from the preference page (then open again, which must stay anonymous). Client addresses are
passed as X-Forwarded-For to a server that trusts the loopback proxy, as behind nginx.
"""

from __future__ import annotations

import email
import http.client
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

HUMAN_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.1",
    "Microsoft Outlook 16.0.17928; Windows NT 10.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/126.0 Mobile Safari/537.36",
)
BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)
APPLE_PROXY_AGENT = "Mozilla/5.0"
SCANNER_AGENTS = ("Barracuda Sentinel (EE)", "Mimecast URL Protect", BROWSER)
SCANNER_NETWORK = "148.163.{}.{}"  # a gateway network of the default rules
APPLE_NETWORK = "17.{}.{}.{}"


@dataclass
class Mail:
    recipient: str
    pixel: str | None = None
    clicks: list[str] = field(default_factory=list)
    preferences: str | None = None
    consent: str | None = None


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.counts[what] += n


def read_outbox(folder: Path, base_url: str) -> list[Mail]:
    """Every .eml in `folder`, with the platform URLs of its HTML part (as paths)."""
    pattern = re.compile(re.escape(base_url.rstrip("/")) + r"(/[^\"'\s<>]+)")
    mails = []
    for path in sorted(folder.glob("*.eml")):
        # The compat32 parser: the default policy's header objects cost 10 ms a message.
        message = email.message_from_bytes(path.read_bytes())
        html = ""
        for part in message.walk():
            if part.get_content_type() == "text/html":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    html = payload.decode(part.get_content_charset() or "utf-8", "replace")
                break
        mail = Mail(recipient=str(message.get("To", "")))
        for found in pattern.findall(html):
            url = found.replace("&amp;", "&")
            if url.startswith("/o/"):
                mail.pixel = url
            elif url.startswith("/c/"):
                mail.clicks.append(url)
            elif url.startswith("/preferences/"):
                mail.preferences = url
            elif url.startswith("/consent/"):
                mail.consent = url
        mails.append(mail)
    return mails


class Client:
    """One keep-alive HTTP connection per thread to the demo server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()
        self.opened: list[http.client.HTTPConnection] = []
        self.lock = threading.Lock()

    def close(self) -> None:
        with self.lock:
            for conn in self.opened:
                conn.close()
            self.opened.clear()

    def request(
        self,
        method: str,
        path: str,
        *,
        ip: str,
        agent: str,
        form: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        headers = {"User-Agent": agent, "X-Forwarded-For": ip, "Accept": "text/html,*/*"}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.local.conn = conn
                with self.lock:
                    self.opened.append(conn)
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                return response.status, text
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _hidden(html: str, form_id: str | None = None) -> dict[str, str]:
    if form_id:
        start = html.find(f'id="{form_id}"')
        html = html[start : html.find("</form>", start)] if start >= 0 else ""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def _person_ip(rng: random.Random) -> str:
    return f"203.0.{rng.randint(113, 120)}.{rng.randint(1, 254)}"


def marketing_traffic(
    client: Client, mails: list[Mail], rng: random.Random, tally: Tally
) -> list[Callable[[], None]]:
    """The requests recipients of a marketing email make, as tasks (run them in any order)."""
    tasks: list[Callable[[], None]] = []

    def hit(path: str, ip: str, agent: str, what: str) -> Callable[[], None]:
        def run() -> None:
            status, _ = client.request("GET", path, ip=ip, agent=agent)
            tally.add(what if status in (200, 302, 303, 307) else f"{what} (failed {status})")

        return run

    for mail in mails:
        roll = rng.random()
        person_ip = _person_ip(rng)
        if mail.pixel and roll < 0.30:
            agent = rng.choice(HUMAN_AGENTS)
            tasks.append(hit(mail.pixel, person_ip, agent, "human open"))
            if rng.random() < 0.3:
                tasks.append(hit(mail.pixel, person_ip, agent, "human open"))
            if mail.clicks and rng.random() < 0.35:
                tasks.append(hit(rng.choice(mail.clicks), person_ip, BROWSER, "click"))
        elif mail.pixel and roll < 0.55:
            apple = APPLE_NETWORK.format(
                rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)
            )
            tasks.append(hit(mail.pixel, apple, APPLE_PROXY_AGENT, "Apple proxy open"))
        elif mail.pixel and roll < 0.60:
            scanner = SCANNER_NETWORK.format(rng.randint(128, 159), rng.randint(1, 254))
            agent = rng.choice(SCANNER_AGENTS)
            tasks.append(hit(mail.pixel, scanner, agent, "scanner open"))
            for link in mail.clicks[:2]:
                tasks.append(hit(link, scanner, agent, "scanner click"))
        elif mail.clicks and roll < 0.63:
            # Images blocked: the person clicks without the pixel ever loading (implicit open).
            tasks.append(hit(rng.choice(mail.clicks), person_ip, BROWSER, "click without open"))
    return tasks


def consent_traffic(
    client: Client, mails: list[Mail], rng: random.Random, tally: Tally
) -> list[Callable[[], None]]:
    """Consent-request recipients: accept, refuse, leave the page, or never come."""
    tasks: list[Callable[[], None]] = []

    def visit(path: str, choice: str | None) -> Callable[[], None]:
        ip = _person_ip(rng)

        def run() -> None:
            status, html = client.request("GET", path, ip=ip, agent=BROWSER)
            if status != 200:
                tally.add(f"consent page failed {status}")
                return
            if choice is None:
                tally.add("consent page left without answer")
                return
            form = {**_hidden(html), "choice": choice}
            status, _ = client.request("POST", path, ip=ip, agent=BROWSER, form=form)
            ok = status in (200, 303)
            done = {"accept": "consent accepted", "refuse": "consent refused"}[choice]
            tally.add(done if ok else f"consent {choice} failed {status}")

        return run

    for mail in mails:
        if not mail.consent:
            continue
        roll = rng.random()
        if roll < 0.30:
            tasks.append(visit(mail.consent, "accept"))
        elif roll < 0.48:
            tasks.append(visit(mail.consent, "refuse"))
        elif roll < 0.58:
            tasks.append(visit(mail.consent, None))
    return tasks


def withdrawal_traffic(
    client: Client, mails: list[Mail], rng: random.Random, tally: Tally, share: float
) -> list[Callable[[], None]]:
    """Some recipients of personal pixels withdraw from the preference page, then open the
    same email again: that later open must be anonymous (R5)."""
    tasks: list[Callable[[], None]] = []
    personal = [m for m in mails if m.preferences and m.pixel and not m.pixel.startswith("/o/a/")]
    for mail in personal:
        if rng.random() >= share:
            continue
        ip = _person_ip(rng)
        page, pixel = mail.preferences, mail.pixel
        assert page is not None and pixel is not None

        def run(page: str = page, pixel: str = pixel, ip: str = ip) -> None:
            status, html = client.request("GET", page, ip=ip, agent=BROWSER)
            if status != 200:
                tally.add(f"preference page failed {status}")
                return
            form = _hidden(html, "cp-stop")
            status, _ = client.request("POST", page, ip=ip, agent=BROWSER, form=form)
            if status not in (200, 303):
                tally.add(f"withdrawal failed {status}")
                return
            tally.add("withdrawal from the preference page")
            client.request("GET", pixel, ip=ip, agent=HUMAN_AGENTS[0])
            tally.add("open after withdrawal (anonymous)")

        tasks.append(run)
    return tasks


def run_all(tasks: Iterable[Callable[[], None]], *, threads: int = 4) -> None:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(task) for task in tasks]:
            future.result()
