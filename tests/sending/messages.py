"""Reading sent messages back, independently of the code that wrote them."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from html.parser import HTMLParser

AUTOLOAD_ATTRS = {"src", "srcset", "background", "poster", "lowsrc", "dynsrc", "data"}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]*)""", re.I)


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """(text, html) of a multipart/alternative message."""
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.autoloaded: list[str] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        for name, value in values.items():
            if name in AUTOLOAD_ATTRS:
                self.autoloaded.extend(value.split(",") if name == "srcset" else [value])
            if name == "style":
                self.autoloaded.extend(CSS_URL.findall(value))
            if name == "href" and tag in ("link", "image", "use"):
                self.autoloaded.append(value)
        if tag in ("a", "area") and "href" in values:
            self.links.append(values["href"])
        if tag == "img":
            self.images.append(self.get_starttag_text() or "")
        self.in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.in_style:
            self.autoloaded.extend(CSS_URL.findall(data))


def scan(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector
