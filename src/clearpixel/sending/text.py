"""A plain-text version of an HTML email: paragraphs and line breaks kept, links written as
`label (url)`, lists as `- item`, styles and scripts dropped, whitespace collapsed.

It runs on the campaign's template once, at compile time; Jinja expressions are plain text to
the HTML parser, so they pass through and are filled per recipient like the HTML.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
        "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
        "tbody", "thead", "tfoot", "tr", "ul",
    }
)  # fmt: skip
PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "table", "blockquote", "ul", "ol", "pre"})
SKIP = frozenset({"head", "style", "script", "title", "template", "noscript"})
SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
MANY_NEWLINES = re.compile(r"\n{3,}")
BREAK = "\x00"  # ends a block: one line break, however many blocks end together
PARA = "\x02"  # ends a paragraph: one blank line
BR = "\x01"  # <br>: always a line break
RUNS = re.compile("[\x00\x02]+")


def html_to_text(html: str) -> str:
    """The readable text of `html`."""
    tree = LexborHTMLParser(html)
    root = tree.body or tree.root
    out: list[str] = []
    if root is not None:
        _walk(root, out)
    text = SPACES.sub(" ", "".join(out).replace("\n", " "))
    text = RUNS.sub(lambda m: "\n\n" if PARA in m.group() else "\n", text).replace(BR, "\n")
    lines = [line.strip() for line in text.split("\n")]
    return MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip() + "\n"


def _walk(node: LexborNode, out: list[str]) -> None:
    for child in node.iter(include_text=True):
        tag = (child.tag or "").lower()
        if tag == "-text":
            out.append(child.text_content or "")
        elif tag.startswith("-") or tag in SKIP:
            continue
        elif tag == "br":
            out.append(BR)
        elif tag == "a":
            _link(child, out)
        elif tag in ("td", "th"):
            _walk(child, out)
            out.append(" ")
        elif tag in BLOCKS:
            end = PARA if tag in PARAGRAPHS else BREAK
            out.append(end)
            if tag == "li":
                out.append("- ")
            elif tag == "hr":
                out.append("----")
            _walk(child, out)
            out.append(end)
        else:
            _walk(child, out)


def _link(node: LexborNode, out: list[str]) -> None:
    href = (node.attributes.get("href") or "").strip()
    label: list[str] = []
    _walk(node, label)
    text = SPACES.sub(" ", RUNS.sub(" ", "".join(label)).replace(BR, " ")).strip()
    bare = href.startswith("mailto:") and text == href.removeprefix("mailto:")
    if not href or href.startswith("#") or bare:
        out.append(text)
    elif not text or text == href:
        out.append(href)
    else:
        out.append(f"{text} ({href})")
