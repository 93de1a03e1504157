"""Render a realistic newsletter to complete MIME messages for many in-memory recipients.

Measures, in one run: the compile cost (once per campaign), the per-recipient cost of a
complete instrumented message (tokens, pixel, click links, footer, MIME bytes) beside a plain
Jinja2 render of the same template, and the peak RSS after 10% and 100% of the recipients.

    uv run python bench/render.py [--recipients 100000]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import jinja2

from clearpixel.domain.policy import MessageKind, TrackingMode
from clearpixel.domain.tokens import Token, TokenKind, TokenSigner
from clearpixel.sending.compile import compile_campaign
from clearpixel.sending.mime import base64_body
from clearpixel.sending.render import CampaignInfo, Renderer

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def newsletter(links: int = 40, target_bytes: int = 30_000) -> str:
    """A table-based HTML newsletter with `links` distinct links, images, inline styles."""
    head = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>The Monthly Dispatch</title>
<style>
  body { margin:0; padding:0; background:#f4f4f4; font-family: Georgia, serif; }
  .container { width:600px; margin:0 auto; background:#ffffff; }
  h1 { font-size:28px; color:#222; } h2 { font-size:20px; color:#333; }
  p { font-size:16px; line-height:24px; color:#444; }
  .btn { display:inline-block; padding:12px 20px; background:#0057b8; color:#fff; }
  @media (max-width: 620px) { .container { width:100% !important; } }
</style></head>
<body><table role="presentation" class="container" width="600" cellpadding="0" cellspacing="0">
<tr><td style="padding:24px"><img src="https://cdn.example.com/brand/logo.png" width="180"
 alt="The Monthly Dispatch" style="display:block;border:0"></td></tr>
<tr><td style="padding:0 24px"><h1>Hello {{ first_name }},</h1>
<p>Here is what happened this month at {{ company }}. As a {{ tier }} member since
{{ member_since }}, you get early access to everything below.</p></td></tr>
"""
    article = """<tr><td style="padding:16px 24px;border-top:1px solid #eeeeee">
<img src="https://cdn.example.com/articles/{n}.jpg" width="552" alt="Article {n}"
 style="display:block;border:0;width:100%;max-width:552px">
<h2><a href="https://www.example.com/articles/{n}?utm_source=newsletter&amp;utm_medium=email"
 style="color:#222;text-decoration:none">Story number {n}: a headline long enough to wrap</a></h2>
<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut
labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris
nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate.</p>
<p><a class="btn" href="https://www.example.com/articles/{n}/read?ref=cta">Read more</a></p>
</td></tr>
"""
    tail = """<tr><td style="padding:24px;font-size:12px;color:#888">
<a href="mailto:editor@example.com">editor@example.com</a> · {{ city }}</td></tr>
</table></body></html>
"""
    body = [head]
    for n in range(1, links // 2 + 1):
        body.append(article.format(n=n))
    html = "".join(body)
    filler = """<tr><td style="padding:8px 24px"><p>Sed ut perspiciatis unde omnis iste natus
error sit voluptatem accusantium doloremque laudantium, totam rem aperiam, eaque ipsa quae ab
illo inventore veritatis et quasi architecto beatae vitae dicta sunt explicabo.</p></td></tr>
"""
    while len(html) + len(tail) < target_bytes:
        html += filler
    return html + tail


@dataclass(frozen=True, slots=True)
class FakeContact:
    id: int
    email: str
    attributes: dict[str, Any] = field(default_factory=dict)
    privacy_flags: int | None = None


def contacts(count: int) -> Iterator[FakeContact]:
    """Generated one at a time, like rows streamed from the database."""
    for i in range(1, count + 1):
        yield FakeContact(
            id=i,
            email=f"person{i}@example.org",
            attributes={
                "first_name": f"Name{i}",
                "company": "Example Ltd",
                "tier": "gold" if i % 7 == 0 else "standard",
                "member_since": 2000 + i % 25,
                "city": "Lyon",
                "locale": "fr" if i % 3 == 0 else "en",
            },
            privacy_flags=[None, 0, 1, 3][i % 4],
        )


def mode_of(flags: int | None) -> TrackingMode:
    return TrackingMode.PERSONAL if flags and flags & 1 else TrackingMode.ANONYMOUS


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    args = parser.parse_args()
    count = args.recipients
    html = newsletter()
    signer = TokenSigner([b"bench-signing-key-0123456789abcdef0123456789"])

    start = time.perf_counter()
    compiled = compile_campaign(
        kind=MessageKind.MARKETING, subject="The Monthly Dispatch", html=html
    )
    renderer = Renderer(
        CampaignInfo(42, "5f0c2a9be1d34c77", "Dispatch <news@example.org>", "Example Ltd"),
        compiled,
        signer=signer,
        base_url="https://mail.example.org",
        unsubscribe_mailto="unsubscribe@example.org",
    )
    compile_ms = (time.perf_counter() - start) * 1000

    plain = jinja2.Environment(autoescape=True).from_string(html)

    def plain_pass(n: int) -> float:
        started = time.perf_counter()
        for contact in contacts(n):
            plain.render(contact.attributes, email=contact.email)
        return time.perf_counter() - started

    def plain_mime_pass(n: int) -> float:
        started = time.perf_counter()
        for contact in contacts(n):
            body = plain.render(contact.attributes, email=contact.email)
            message = EmailMessage()
            message["From"] = "news@example.org"
            message["To"] = contact.email
            message["Subject"] = "The Monthly Dispatch"
            message.set_content("text")
            message.add_alternative(body, subtype="html")
            message.as_bytes()
        return time.perf_counter() - started

    total_bytes = 0

    def instrumented_pass(n: int, *, check_rss_at: int = 0) -> tuple[float, float]:
        nonlocal total_bytes
        rss_at = 0.0
        started = time.perf_counter()
        for contact in contacts(n):
            flags = contact.privacy_flags
            mode = mode_of(flags)
            purposes = (flags or 0) if mode is TrackingMode.PERSONAL else 0
            data = renderer.render(contact, mode, purposes=purposes, now=NOW).data
            total_bytes += len(data)
            if contact.id == check_rss_at:
                rss_at = rss_mb()
        return time.perf_counter() - started, rss_at

    # Warm up, then measure plain and instrumented renders in alternating blocks of 1,000
    # recipients, so both see the same machine load.
    plain_pass(2000)
    instrumented_pass(2000)
    gc.collect()
    rss_start = rss_mb()
    plain_s = instrumented_s = 0.0
    rss_10 = 0.0
    block = 1000
    for done in range(0, count, block):
        n = min(block, count - done)
        plain_s += plain_pass(n)
        instrumented_s += instrumented_pass(n)[0]
        if done + n == count // 10:
            rss_10 = rss_mb()
    rss_end = rss_mb()
    mime_n = min(count, 5_000)
    plain_mime_s = plain_mime_pass(mime_n)
    plain_sample_s = plain_pass(mime_n)
    stages = stage_costs(renderer, signer, min(count, 5_000))

    per_inst = instrumented_s / count * 1e6
    per_plain = plain_s / count * 1e6
    per_plain_mime = plain_mime_s / mime_n * 1e6
    per_plain_sample = plain_sample_s / mime_n * 1e6
    cores = len(os.sched_getaffinity(0))
    print(
        f"machine: {platform.machine()}, {cores} cores, CPython {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"template: {len(html):,} bytes, {len(compiled.links)} registered links; "
        f"{count:,} recipients (1/2 personal pixel, 1/2 anonymous)"
    )
    print(f"compile (once per campaign): {compile_ms:.1f} ms")
    print()
    print("| measure | per recipient | messages/s | vs plain Jinja2 render |")
    print("| --- | --- | --- | --- |")
    print(
        f"| plain Jinja2 render of the same template (baseline) | {per_plain:.1f} µs "
        f"| {count / plain_s:,.0f} | 1.00× |"
    )
    print(
        f"| complete instrumented MIME message | {per_inst:.1f} µs "
        f"| {count / instrumented_s:,.0f} | {per_inst / per_plain:.2f}× |"
    )
    print(
        f"| plain render + stdlib `email` MIME ({mime_n:,} recipients) | {per_plain_mime:.1f} µs "
        f"| {mime_n / plain_mime_s:,.0f} | {per_plain_mime / per_plain_sample:.2f}× |"
    )
    print()
    print(f"where an instrumented message's time goes ({min(count, 5_000):,} recipients):")
    print()
    print("| stage | per recipient |")
    print("| --- | --- |")
    for name, seconds in stages.items():
        print(f"| {name} | {seconds:.1f} µs |")
    print()
    print(f"average message: {total_bytes / (count + 2000):,.0f} bytes")
    print(
        f"peak RSS: {rss_start:.1f} MB before, {rss_10:.1f} MB after {count // 10:,}, "
        f"{rss_end:.1f} MB after {count:,} recipients"
    )


def stage_costs(renderer: Renderer, signer: TokenSigner, n: int) -> dict[str, float]:
    """The main parts of one instrumented message, timed separately (µs per recipient)."""
    compiled = renderer.compiled
    people = list(contacts(n))
    link_ids = range(1, len(compiled.links) + 1)
    started = time.perf_counter()
    for c in people:
        signer.sign_links(campaign_id=42, contact_id=c.id, link_ids=link_ids)
        signer.sign_many(
            [
                Token(TokenKind.PIXEL, c.id, campaign_id=42, purposes=3),
                Token(TokenKind.PREFERENCES, c.id),
                Token(TokenKind.UNSUBSCRIBE, c.id),
            ]
        )
    batch = time.perf_counter() - started
    started = time.perf_counter()
    for c in people:
        for link_id in link_ids:
            signer.sign(Token(TokenKind.CLICK, c.id, campaign_id=42, link_id=link_id))
        signer.sign(Token(TokenKind.PIXEL, c.id, campaign_id=42, purposes=3))
        signer.sign(Token(TokenKind.PREFERENCES, c.id))
        signer.sign(Token(TokenKind.UNSUBSCRIBE, c.id))
    one_by_one = time.perf_counter() - started
    links = ["https://mail.example.org/c/EV4BBQGRt9O-2xElCHrFoPg"] * len(compiled.links)
    tail = "<p>footer · pied de page</p>"
    html = text = b""
    started = time.perf_counter()
    for c in people:
        html, text = compiled.fill_utf8(dict(c.attributes), links, html_tail=tail, text_tail=tail)
    jinja_s = time.perf_counter() - started
    layout = renderer.layout
    started = time.perf_counter()
    for c in people:
        layout.build(
            to=c.email, message_id="<x@example.org>", subject=None, date=NOW, boundary="=_x.1",
            text=text, html=html, list_unsubscribe=("https://u.example/u/T", "mailto:u@x.org"),
            crlf=(True, True),
        )  # fmt: skip
    mime_s = time.perf_counter() - started
    html_str, text_str = html.decode(), text.decode()
    started = time.perf_counter()
    for _ in people:
        base64_body(html_str)
        base64_body(text_str)
    encode = time.perf_counter() - started
    tokens = len(compiled.links) + 3
    return {
        f"{tokens} signed tokens in two batches (`sign_links`, `sign_many`)": batch / n * 1e6,
        f"the same {tokens} tokens one by one (`TokenSigner.sign`, before)": one_by_one / n * 1e6,
        "one Jinja render of both parts' non-constant pieces, split, joined, UTF-8": jinja_s
        / n
        * 1e6,
        "MIME assembly: headers, 7bit/8bit parts, line-length check": mime_s / n * 1e6,
        "base64 of both parts (the encoding used before)": encode / n * 1e6,
    }


if __name__ == "__main__":
    main()
