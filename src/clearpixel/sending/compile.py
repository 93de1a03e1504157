"""Compile a campaign once: check it against R1/R3, register its links, and turn it into
templates whose per-recipient render needs no HTML parsing.

The HTML is parsed once (selectolax). Every tracked `<a href>` value is replaced in the
template source by a variable (`_cp_l{link id}`) that the renderer fills with the recipient's
click URL, and `{{ _cp_tail }}` (pixel and footer) goes before `</body>`. Per recipient there
is then one sandboxed Jinja render and string joins.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment
from selectolax.lexbor import LexborHTMLParser

from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.policy import MessageKind
from clearpixel.sending import htmlscan
from clearpixel.sending.text import html_to_text

EXPRESSION = re.compile(r"\{\{|\{%")
PLATFORM_LINK = re.compile(r"^\s*\{\{\s*(preferences_url|unsubscribe_url|consent_url)\s*\}\}\s*$")
HREF = re.compile(
    r"""<(?:a|area)\b(?:[^>"']|"[^"]*"|'[^']*')*?(?<![\w:-])href\s*=\s*"""
    r"""("[^"]*"|'[^']*'|[^\s"'>]+)""",
    re.I,
)
COMMENT = re.compile(r"<!--.*?-->", re.S)
BODY_END = re.compile(r"</body\s*>", re.I)
TAIL = "{{ _cp_tail }}"
# Kinds that R1 and R3 protect: no per-recipient value in auto-loaded URLs.
PROTECTED = frozenset({MessageKind.MARKETING, MessageKind.CONSENT_REQUEST})


class TemplateRefused(ClearpixelError, ValueError):
    """A campaign template that breaks a rule; the message names the tag or construct."""


def html_environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=True, undefined=jinja2.Undefined)


def text_environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=False, undefined=jinja2.Undefined)


HTML_ENV = html_environment()
TEXT_ENV = text_environment()


@dataclass(frozen=True, slots=True)
class Compiled:
    """A campaign's templates, ready to render many times."""

    kind: MessageKind
    links: list[str]  # registered URLs; link id = index + 1
    html: jinja2.Template
    text: jinja2.Template
    subject: jinja2.Template | None  # None: the subject has no expression
    subject_text: str
    resources: list[htmlscan.Resource] = field(default_factory=list)
    link_vars: tuple[str, ...] = ()


def compile_campaign(
    *, kind: MessageKind, subject: str, html: str, text: str | None = None
) -> Compiled:
    """Check and compile a campaign template. Raises TemplateRefused naming the problem."""
    _parse_jinja(html, "HTML")
    tree = htmlscan.parse(html)
    resources = htmlscan.auto_loaded(tree, html)
    if kind in PROTECTED:
        _check_r1(tree, html, resources, kind)
    hrefs = _locate_links(html, htmlscan.link_hrefs(tree))
    links: list[str] = []
    replacements: list[tuple[int, int, str]] = []
    for start, end, value in hrefs:
        if kind is MessageKind.CONSENT_REQUEST:
            if EXPRESSION.search(value) and not _consent_request_link(value):
                raise TemplateRefused(
                    f"consent_request: the link {value!r} carries a per-recipient value; only "
                    "{{ consent_url }} and {{ unsubscribe_url }} may (R3)"
                )
            continue
        if not _trackable(value):
            continue
        if value not in links:
            links.append(value)
        replacements.append((start, end, f'"{{{{ _cp_l{links.index(value) + 1} }}}}"'))
    if kind is MessageKind.CONSENT_REQUEST and "consent_url" not in html:
        raise TemplateRefused("a consent_request template must contain {{ consent_url }} (R3)")
    source = _replace(html, replacements)
    html_source = _with_tail(source)
    if text is None:
        text_source = html_to_text(source).rstrip("\n") + "\n" + TAIL
    else:
        _parse_jinja(text, "text")
        text_source = _track_text_links(text, links).rstrip("\n") + "\n" + TAIL
    subject_template = None
    if EXPRESSION.search(subject):
        _parse_jinja(subject, "subject")
        subject_template = TEXT_ENV.from_string(subject)
    return Compiled(
        kind=kind,
        links=links,
        html=HTML_ENV.from_string(html_source),
        text=TEXT_ENV.from_string(text_source),
        subject=subject_template,
        subject_text=subject,
        resources=resources,
        link_vars=tuple(f"_cp_l{i}" for i in range(1, len(links) + 1)),
    )


def _parse_jinja(source: str, what: str) -> nodes.Template:
    try:
        return HTML_ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateRefused(f"{what} template, line {exc.lineno}: {exc.message}") from None


def _check_r1(
    tree: LexborHTMLParser,
    source: str,
    resources: list[htmlscan.Resource],
    kind: MessageKind,
) -> None:
    """R1: in marketing and consent requests, nothing the client loads by itself may depend
    on the recipient: no template expression in an auto-loaded URL, in a style, or between a
    tag's attributes, and no way around autoescaping."""
    rule = f"{kind.value} emails may not carry per-recipient values in auto-loaded URLs (R1)"
    for resource in [*resources, *htmlscan.raw_resources(source)]:
        if EXPRESSION.search(resource.url):
            raise TemplateRefused(
                f"{resource.describe()} loads {resource.url!r}, which contains a template "
                f"expression: {rule}"
            )
    for node in htmlscan.elements(tree):
        tag = (node.tag or "").lower()
        for name, value in node.attributes.items():
            if "{" in name or "}" in name or "%" in name:
                raise TemplateRefused(
                    f"<{tag}> has a template expression among its attributes: {rule}"
                )
            if name.lower() == "style" and value and EXPRESSION.search(value):
                raise TemplateRefused(f"<{tag} style> contains a template expression: {rule}")
        if tag == "style" and EXPRESSION.search(node.text(deep=True)):
            raise TemplateRefused(f"<style> contains a template expression: {rule}")
    for match in htmlscan.CONDITIONAL_COMMENT.finditer(source):
        if EXPRESSION.search(match.group(1)):
            raise TemplateRefused(
                f"a conditional comment (<!--[if ...]>) contains a template expression: {rule}"
            )
    for found in _parse_jinja(source, "HTML").find_all(
        (nodes.Filter, nodes.ScopedEvalContextModifier, nodes.EvalContextModifier)
    ):
        if isinstance(found, nodes.Filter) and found.name != "safe":
            continue
        what = "the |safe filter" if isinstance(found, nodes.Filter) else "an autoescape block"
        raise TemplateRefused(
            f"{what} (line {found.lineno}) would let a value write markup: {rule}"
        )


def _locate_links(source: str, found: list[str]) -> list[tuple[int, int, str]]:
    """Source spans of the href values selectolax found, in the same order."""
    comments = [m.span() for m in COMMENT.finditer(source)]
    spans: list[tuple[int, int, str]] = []
    for match in HREF.finditer(source):
        start, end = match.span(1)
        if any(a <= start < b for a, b in comments):
            continue
        raw = match.group(1)
        if raw[:1] in "\"'":
            raw = raw[1:-1]
        spans.append((start, end, html_lib.unescape(raw)))
    if [s[2] for s in spans] != found:
        raise TemplateRefused(
            "could not locate every <a href> of the template in its source; "
            "keep template expressions out of the tag outside attribute values"
        )
    return spans


def _consent_request_link(value: str) -> bool:
    match = PLATFORM_LINK.match(value)
    return bool(match) and match is not None and match.group(1) != "preferences_url"


def _trackable(href: str) -> bool:
    """Links the platform rewrites: plain http(s) URLs with no template expression."""
    low = href.strip().lower()
    return low.startswith(("http://", "https://")) and not EXPRESSION.search(href)


def _replace(source: str, replacements: list[tuple[int, int, str]]) -> str:
    out: list[str] = []
    pos = 0
    for start, end, new in replacements:
        out.append(source[pos:start])
        out.append(new)
        pos = end
    out.append(source[pos:])
    return "".join(out)


def _with_tail(source: str) -> str:
    ends = list(BODY_END.finditer(source))
    if not ends:
        return source + TAIL
    at = ends[-1].start()
    return source[:at] + TAIL + source[at:]


def _track_text_links(text: str, links: list[str]) -> str:
    """In a given text part, registered URLs are rewritten like in the HTML."""
    if not links:
        return text
    by_url: Mapping[str, int] = {url: i for i, url in enumerate(links, start=1)}
    pattern = re.compile(
        "|".join(re.escape(u) for u in sorted(links, key=len, reverse=True)) + r"(?![^\s<>\"')\]])"
    )
    return pattern.sub(lambda m: f"{{{{ _cp_l{by_url[m.group()]} }}}}", text)
