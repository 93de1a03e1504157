"""The links of a campaign template: where each `<a href>` is in the source, which ones the
tracker rewrites, and which addresses are refused outright.

A link is found in the source by a pattern that knows quoted attribute values and Jinja
syntax inside a tag; whatever it misses the create-time proof finds in the rendered output
(`proof.py`), so a link hidden by template syntax is refused rather than silently left
untracked. An address is trimmed as a browser trims it before it is registered.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping

from clearpixel.domain.errors import N_, ClearpixelError

_JINJA = r"\{\{.*?\}\}|\{%.*?%\}|\{\#.*?\#\}"
HREF = re.compile(
    rf"""<(?:a|area)\b(?:{_JINJA}|[^>"']|"[^"]*"|'[^']*')*?(?<![\w:-])href\s*=\s*"""
    rf"""("[^"]*"|'[^']*'|(?:{_JINJA}|[^\s"'>])+)""",
    re.I | re.S,
)
HIDDEN = re.compile(r"<!--.*?-->|\{\#.*?\#\}", re.S)  # HTML and Jinja comments
EXPRESSION = re.compile(r"\{\{|\{%")
PLATFORM_LINK = re.compile(r"^\s*\{\{\s*(preferences_url|unsubscribe_url|consent_url)\s*\}\}\s*$")
DANGEROUS = ("javascript:", "data:", "vbscript:")
# What a browser removes from a URL before reading its scheme (WHATWG URL: C0 controls and
# space around it, tab and newlines anywhere).
_STRIP = "".join(chr(c) for c in range(0x21))
_INSIDE = re.compile("[\t\n\r]")


class RefusedLink(ClearpixelError, ValueError):
    """A link whose address is refused; the message names it."""


def as_browser_reads(href: str) -> str:
    """`href` (entities already decoded) the way a browser reads it: trimmed, without tabs
    or line breaks."""
    return _INSIDE.sub("", href.strip(_STRIP))


def check_scheme(href: str) -> None:
    """Refuse links that run code or carry a document instead of leading to an address."""
    low = as_browser_reads(href).lower()
    for scheme in DANGEROUS:
        if low.startswith(scheme):
            raise RefusedLink(
                N_(
                    "the link %(url)r is refused: %(scheme)s links run code or embed content "
                    "in the mail client instead of leading to a page"
                ),
                url=href.strip(),
                scheme=scheme,
            )


def locate(source: str) -> list[tuple[int, int, str]]:
    """(start, end, value) of every `<a|area href>` value in the source, outside HTML and
    Jinja comments, entities decoded."""
    hidden = [m.span() for m in HIDDEN.finditer(source)]
    spans: list[tuple[int, int, str]] = []
    for match in HREF.finditer(source):
        start, end = match.span(1)
        if any(a <= match.start() < b for a, b in hidden):
            continue
        raw = match.group(1)
        if raw[:1] in "\"'":
            raw = raw[1:-1]
        spans.append((start, end, html_lib.unescape(raw)))
    return spans


def consent_request_link(value: str) -> bool:
    """A consent request's own links: `{{ consent_url }}` and `{{ unsubscribe_url }}`."""
    match = PLATFORM_LINK.match(value)
    return match is not None and match.group(1) != "preferences_url"


def trackable(href: str) -> bool:
    """Links the platform rewrites: plain http(s) URLs with no template expression."""
    low = href.lower()
    return low.startswith(("http://", "https://")) and not EXPRESSION.search(href)


def track_text_links(text: str, slots: Mapping[str, str]) -> str:
    """In a given text part, registered URLs (keys) are replaced by their slots (values)."""
    if not slots:
        return text
    pattern = re.compile(
        "|".join(re.escape(u) for u in sorted(slots, key=len, reverse=True)) + r"(?![^\s<>\"')\]])"
    )
    return pattern.sub(lambda m: slots[m.group()], text)
