"""What an HTML document loads by itself and where it links, found with one parse.

Used when a campaign is compiled (never per recipient) and by the R1 checks: every URL a mail
client fetches without the reader clicking — img src/srcset, CSS url() and @import in style
attributes and <style>, background, link rel=stylesheet/icon, video poster, input type=image,
object data, SVG image/use href — including what Outlook loads from conditional comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

# Attributes whose URL a client fetches on display, on any element.
AUTOLOAD_ATTRIBUTES = ("src", "srcset", "background", "poster", "lowsrc", "dynsrc", "imagesrcset")
# `href` is fetched on display for these elements (not for <a>/<area>, which need a click);
# <base href> decides where every relative auto-loaded URL points.
AUTOLOAD_HREF_TAGS = frozenset({"link", "image", "use", "feimage", "base"})
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3""", re.I | re.S)
CONDITIONAL_COMMENT = re.compile(r"<!--\[if[^\]]*\]>(.*?)<!\[endif\]-->", re.I | re.S)


@dataclass(frozen=True, slots=True)
class Resource:
    """One automatically loaded URL: the tag and attribute (or `style`) that loads it."""

    tag: str
    attribute: str
    url: str

    def describe(self) -> str:
        return f"<{self.tag} {self.attribute}>" if self.attribute else f"<{self.tag}>"


def parse(html: str) -> LexborHTMLParser:
    return LexborHTMLParser(html)


def css_urls(css: str) -> list[str]:
    """The URLs a piece of CSS loads (url(...) and @import)."""
    return [m.group(2) if m.group(2) is not None else m.group(4) for m in CSS_URL.finditer(css)]


def srcset_urls(value: str) -> list[str]:
    return [part.strip().split()[0] for part in value.split(",") if part.strip()]


def _node_resources(node: LexborNode) -> list[Resource]:
    tag = (node.tag or "").lower()
    found: list[Resource] = []
    attributes = node.attributes
    for name, value in attributes.items():
        low = name.lower()
        if value is None:
            continue
        if low in ("srcset", "imagesrcset"):
            found.extend(Resource(tag, low, url) for url in srcset_urls(value))
        elif low in AUTOLOAD_ATTRIBUTES:
            found.append(Resource(tag, low, value))
        elif low == "style":
            found.extend(Resource(tag, "style", url) for url in css_urls(value))
        elif (low in ("href", "xlink:href") and tag in AUTOLOAD_HREF_TAGS) or (
            low == "data" and tag == "object"
        ):
            found.append(Resource(tag, low, value))
    if tag == "style":
        found.extend(Resource("style", "", url) for url in css_urls(node.text(deep=True)))
    return found


def auto_loaded(tree: LexborHTMLParser, source: str | None = None) -> list[Resource]:
    """Every automatically loaded URL of a document, in document order; with `source`, also
    those inside Outlook conditional comments (`<!--[if mso]>...<![endif]-->`)."""
    found: list[Resource] = []
    root = tree.root
    if root is not None:
        for node in root.traverse():
            if node.tag and not node.tag.startswith("-"):
                found.extend(_node_resources(node))
    if source is not None:
        for match in CONDITIONAL_COMMENT.finditer(source):
            found.extend(auto_loaded(parse(match.group(1))))
    return found


RAW_TAG = re.compile(r"""<([a-zA-Z][\w:.-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>""")
RAW_ATTRIBUTE = re.compile(r"""([^\s"'=<>/]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")


def raw_resources(source: str) -> list[Resource]:
    """Auto-loaded URLs read from the tags as written, without building a tree: the HTML5
    tree builder drops misplaced tags (a <td> outside a table) that some mail clients keep,
    so the R1 check looks at both."""
    found: list[Resource] = []
    for tag_match in RAW_TAG.finditer(source):
        tag = tag_match.group(1).lower()
        for attr in RAW_ATTRIBUTE.finditer(tag_match.group(2)):
            name, value = attr.group(1).lower(), attr.group(2) or ""
            if value[:1] in "\"'":
                value = value[1:-1]
            if (
                name in AUTOLOAD_ATTRIBUTES
                or name == "style"
                or (name in ("href", "xlink:href") and tag in AUTOLOAD_HREF_TAGS)
                or (name == "data" and tag == "object")
            ):
                found.append(Resource(tag, name, value))
    return found


def elements(tree: LexborHTMLParser) -> list[LexborNode]:
    root = tree.root
    if root is None:
        return []
    return [n for n in root.traverse() if n.tag and not n.tag.startswith("-")]
