"""What a rendered email makes a mail client fetch or offer to follow, read from its HTML.

Used by the create-time proof (`proof.py`), never per recipient. It is deliberately wide:
whatever could load by itself is listed, from the parsed tree (what a browser builds) and
again from the tags as written (misplaced tags some clients keep, `<template>` and
`<noscript>` content, commented-out markup), and from inside Outlook conditional comments.
An item is (tag, attribute, value); a style attribute, a `<style>` sheet and a `<meta>`
element are listed whole, so no CSS or refresh syntax can hide a URL in them.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from clearpixel.sending import htmlscan

# Attributes whose value a client may fetch on display, on any element.
LOADING = frozenset(
    {
        "src", "srcset", "imagesrcset", "background", "poster", "lowsrc", "dynsrc", "data",
        "codebase", "archive", "classid", "manifest", "icon", "profile", "xml:base", "style",
        "srcdoc", "ping",
    }
)  # fmt: skip
LINK_TAGS = frozenset({"a", "area"})
# Attributes that lead somewhere when followed (compared in consent requests only).
FOLLOWED = frozenset({"href", "xlink:href", "action", "formaction", "cite", "longdesc"})
CONDITIONAL = htmlscan.CONDITIONAL_COMMENT
RAW_TAG = htmlscan.RAW_TAG
RAW_ATTRIBUTE = htmlscan.RAW_ATTRIBUTE
RAW_STYLE = re.compile(r"<style\b[^>]*>(.*?)(?:</style\s*>|\Z)", re.I | re.S)
TEXT_URL = re.compile(
    r"""(?:[a-z][a-z0-9+.-]*:)?//[^\s<>"'`]+|\b(?:mailto|tel):[^\s<>"'`]+""", re.I
)


@dataclass(frozen=True, slots=True)
class UrlValue:
    """One URL-bearing value: `<tag attribute>` and its value (entities decoded)."""

    tag: str
    attribute: str
    value: str
    where: str = "tree"  # tree, raw (as written), conditional comment, text
    loads: bool = True  # fetched on display (else followed when clicked)

    def describe(self) -> str:
        return f"<{self.tag} {self.attribute}>" if self.attribute else f"<{self.tag}>"


def _loads(tag: str, name: str) -> bool:
    if name in LOADING or tag == "meta" or tag == "link":
        return True
    if name in ("href", "xlink:href"):
        return tag not in LINK_TAGS
    return name.endswith(("src", "href")) and tag not in LINK_TAGS


def _followed(tag: str, name: str) -> bool:
    return name in FOLLOWED


def _items(
    tag: str, attributes: list[tuple[str, str]], *, links: bool, where: str
) -> list[UrlValue]:
    found = []
    for name, value in attributes:
        if _loads(tag, name):
            found.append(UrlValue(tag, name, value.strip(), where))
        elif links and _followed(tag, name):
            found.append(UrlValue(tag, name, value.strip(), where, loads=False))
    return found


def _tree_items(tree: LexborHTMLParser, *, links: bool) -> list[UrlValue]:
    found: list[UrlValue] = []
    root = tree.root
    if root is None:
        return found
    for node in root.traverse():
        tag = (node.tag or "").lower()
        if not tag or tag.startswith("-"):
            continue
        attrs = [(k.lower(), v or "") for k, v in node.attributes.items()]
        found.extend(_items(tag, attrs, links=links, where="tree"))
        if tag == "style":
            found.append(UrlValue("style", "", node.text(deep=True), "tree"))
        if links and tag not in ("style", "script"):
            found.extend(_text_urls(node, tag))
    return found


def _text_urls(node: LexborNode, tag: str) -> list[UrlValue]:
    out = []
    for child in node.iter(include_text=True):
        if child.tag == "-text":
            for url in TEXT_URL.findall(child.text_content or ""):
                out.append(UrlValue(tag, "text", url, "text", loads=False))
    return out


def _raw_items(source: str, *, links: bool) -> list[UrlValue]:
    found: list[UrlValue] = []
    for tag_match in RAW_TAG.finditer(source):
        tag = tag_match.group(1).lower()
        attrs = []
        for attr in RAW_ATTRIBUTE.finditer(tag_match.group(2)):
            value = attr.group(2) or ""
            if value[:1] in "\"'":
                value = value[1:-1]
            attrs.append((attr.group(1).lower(), html_lib.unescape(value)))
        found.extend(_items(tag, attrs, links=links, where="raw"))
    found.extend(UrlValue("style", "", m.group(1), "raw") for m in RAW_STYLE.finditer(source))
    return found


def scan(html: str, *, links: bool = False) -> list[UrlValue]:
    """Every item of a rendered HTML part, in a stable order: from the tree, from the tags as
    written, then from conditional comments. With `links`, also where it leads when followed
    (hrefs, form actions, URLs written as text)."""
    found = _tree_items(LexborHTMLParser(html), links=links)
    found.extend(_raw_items(html, links=links))
    for match in CONDITIONAL.finditer(html):
        inner = match.group(1)
        inside = [*_tree_items(LexborHTMLParser(inner), links=links)]
        inside += _raw_items(inner, links=links)
        found.extend(
            UrlValue(i.tag, i.attribute, i.value, "conditional comment", i.loads) for i in inside
        )
    return found


def text_urls(text: str) -> list[UrlValue]:
    """URLs written in a plain-text part or a subject."""
    return [UrlValue("text", "", url, "text", loads=False) for url in TEXT_URL.findall(text)]


def tail_ancestors(html: str, marker: str) -> list[str] | None:
    """The elements, innermost first, around the `<marker>` element below <body>; None when
    the marker is not an element of the document (hidden in a comment, in raw text)."""
    found = LexborHTMLParser(html).css_first(marker)
    if found is None:
        return None
    out = []
    node = found.parent
    while node is not None and (node.tag or "").lower() not in ("body", "html"):
        out.append((node.tag or "").lower())
        node = node.parent
    return out


def links(html: str) -> list[str]:
    """The href of every <a> and <area> of the parsed document (entities decoded)."""
    tree = LexborHTMLParser(html)
    return [(n.attributes.get("href") or "").strip() for n in tree.css("a[href], area[href]")]
