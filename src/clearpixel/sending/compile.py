"""Compile a campaign once: check it against R1/R3, register its links, and turn it into
templates whose per-recipient render needs no HTML parsing.

The HTML is parsed once (selectolax). Every tracked `<a href>` value becomes a slot for the
recipient's click URL, and one more slot (pixel and footer) goes before `</body>`; the text
part gets the same slots. When every slot sits outside Jinja blocks (the usual newsletter),
a slot is a separator in the template's static text, and the top-level text around slots and
around `{{ expressions }}` is a constant kept ready in UTF-8: per recipient, one Jinja render
fills the expressions of both parts, and its output is split at the separators and joined
with the constants and the recipient's URLs. A slot inside a block (a link in a loop or a
condition) makes the part fall back to Jinja variables (`_cp_l{link id}`, `_cp_tail`).
"""

from __future__ import annotations

import html as html_lib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup
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
SLOT = re.compile(r"@@cp[0-9a-f]{32}\.(\d+)@@")
TAIL_ID = 0
JINJA_SYNTAX = re.compile(r"\{[{%#]")
FINAL_NEWLINE = re.compile(r"(?:\r\n|\r|\n)\Z")
VARIABLE = re.compile(r"(\{\{.*?\}\})", re.S)
NEWLINE = re.compile(r"\r\n|\r|\n")  # what Jinja takes for a line end in template text
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


def crlf_lines(value: Any) -> Any:
    """A `{{ value }}` with its line ends made CRLF (Markup stays Markup)."""
    if isinstance(value, str) and ("\n" in value or "\r" in value):
        return value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    return value


def _part_environment(env: SandboxedEnvironment) -> SandboxedEnvironment:
    """The parts' templates write CRLF line ends, as the message carries them: in their
    text (newline_sequence) and in every `{{ value }}` (finalize). Only a block that rewrites
    its own output (`{% filter %}`, `{% call %}`) escapes this; `Part.crlf` says so."""
    env.newline_sequence = "\r\n"
    env.finalize = crlf_lines
    return env


HTML_PART_ENV = _part_environment(html_environment())
TEXT_PART_ENV = _part_environment(text_environment())


@dataclass(frozen=True, slots=True)
class Part:
    """One part's template and where the platform's values go in its output.

    With slots, the output is a fixed sequence of items: constants (the template's top-level
    text, kept ready as str and UTF-8 and left out of the template), slots (links, tail) and
    rendered units (what Jinja renders per recipient, one template with `separator` between
    units)."""

    template: jinja2.Template
    slots: tuple[int, ...] | None  # link ids in output order (0: the tail); None: variables
    separator: str
    crlf: bool = False  # every line end it writes is CRLF, given values without bare CR/LF
    skeleton: tuple[str, ...] = ()  # the output items, "" where a slot or unit goes
    skeleton_utf8: tuple[bytes, ...] = ()
    slot_at: tuple[int, ...] = ()  # item index of each slot
    unit_at: tuple[int, ...] = ()  # item index of each rendered unit
    template_source: str = ""  # the units' Jinja source, separator between units

    def fill(self, values: dict[str, Any], links: Sequence[str], tail: str) -> str:
        """Render with the campaign's `values` and put `links` (link id = index + 1) and
        `tail` in their places. Raises jinja2.TemplateError as Jinja does, and ValueError if a
        value forged a separator (the separator is random per compile: never in practice)."""
        if self.slots is None:
            values["_cp_tail"] = _trusted(tail)
            for link_id, url in enumerate(links, start=1):
                values[f"_cp_l{link_id}"] = _trusted(url)
            return self.template.render(values)
        out = list(self.skeleton)
        for at, unit in zip(self.unit_at, self._units(values), strict=True):
            out[at] = unit
        by_id = (tail, *links)
        for at, slot in zip(self.slot_at, self.slots, strict=True):
            out[at] = by_id[slot]
        return "".join(out)

    def fill_utf8(self, values: dict[str, Any], links: Sequence[str], tail: str) -> bytes:
        """`fill(...).encode("utf-8")`, with the constants encoded once per campaign."""
        if self.slots is None:
            return self.fill(values, links, tail).encode("utf-8")
        return self.assemble_utf8(self._units(values), links, tail)

    def assemble_utf8(self, units: Sequence[str], links: Sequence[str], tail: str) -> bytes:
        """The part in UTF-8 from its rendered units (slots only)."""
        assert self.slots is not None
        out = list(self.skeleton_utf8)
        for at, unit in zip(self.unit_at, units, strict=True):
            out[at] = unit.encode("utf-8")
        by_id = [tail.encode("utf-8"), *"\n".join(links).encode("ascii").split(b"\n")]
        for at, slot in zip(self.slot_at, self.slots, strict=True):
            out[at] = by_id[slot]
        return b"".join(out)

    def _units(self, values: dict[str, Any]) -> list[str]:
        units = self.template.render(values).split(self.separator)
        if len(units) != len(self.unit_at):
            raise ValueError("a rendered value contains the slot separator")
        return units


@dataclass(frozen=True, slots=True)
class Compiled:
    """A campaign's templates, ready to render many times."""

    kind: MessageKind
    links: list[str]  # registered URLs; link id = index + 1
    html: Part
    text: Part
    subject: jinja2.Template | None  # None: the subject has no expression
    subject_text: str
    resources: list[htmlscan.Resource] = field(default_factory=list)
    both: jinja2.Template | None = None  # the units of both parts in one render, if slotted

    def fill_utf8(
        self,
        values: dict[str, Any],
        links: Sequence[str],
        *,
        html_tail: str,
        text_tail: str,
    ) -> tuple[bytes, bytes]:
        """(HTML, text) in UTF-8, with one Jinja render for both when their slots allow."""
        if self.both is None:
            html = self.html.fill_utf8(values, links, html_tail)
            return html, self.text.fill_utf8(values, links, text_tail)
        units = self.both.render(values).split(self.html.separator)
        cut = len(self.html.unit_at)
        if len(units) != cut + len(self.text.unit_at):
            raise ValueError("a rendered value contains the slot separator")
        return (
            self.html.assemble_utf8(units[:cut], links, html_tail),
            self.text.assemble_utf8(units[cut:], links, text_tail),
        )


def _trusted(value: str) -> Markup:
    """Markup the platform built itself (its own URLs and tags), so autoescape leaves it."""
    return Markup(value)  # noqa: S704 - never contains a recipient's value


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
    nonce = secrets.token_hex(16)
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
        replacements.append((start, end, f'"{_slot(nonce, links.index(value) + 1)}"'))
    if kind is MessageKind.CONSENT_REQUEST and "consent_url" not in html:
        raise TemplateRefused("a consent_request template must contain {{ consent_url }} (R3)")
    source = _replace(html, replacements)
    tail = _slot(nonce, TAIL_ID)
    html_source = _with_tail(source, tail)
    if text is None:
        text_source = html_to_text(source).rstrip("\n") + "\n" + tail
    else:
        _parse_jinja(text, "text")
        text_source = _track_text_links(text, links, nonce).rstrip("\n") + "\n" + tail
    subject_template = None
    if EXPRESSION.search(subject):
        _parse_jinja(subject, "subject")
        subject_template = TEXT_ENV.from_string(subject)
    html_part = _part(HTML_PART_ENV, html_source, nonce)
    text_part = _part(TEXT_PART_ENV, text_source, nonce)
    return Compiled(
        kind=kind,
        links=links,
        html=html_part,
        text=text_part,
        subject=subject_template,
        subject_text=subject,
        resources=resources,
        both=_both(html_part, text_part),
    )


def _both(html: Part, text: Part) -> jinja2.Template | None:
    """One template rendering the units of both parts (the text's without autoescape), so a
    recipient costs one Jinja render; None when a part is not slotted or they do not combine
    (a block name defined in both)."""
    if html.slots is None or text.slots is None:
        return None
    # Alone, each template would lose one final line end (Jinja drops it); so here too.
    source = (
        FINAL_NEWLINE.sub("", html.template_source, count=1)
        + html.separator
        + "{% autoescape false %}"
        + FINAL_NEWLINE.sub("", text.template_source, count=1)
        + "{% endautoescape %}"
    )
    try:
        return HTML_PART_ENV.from_string(source)
    except jinja2.TemplateSyntaxError:
        return None


def _slot(nonce: str, link_id: int) -> str:
    """A placeholder no HTML parser or text conversion alters. ASCII, so that a part stays
    ASCII (cheap to encode) unless its text is not."""
    return f"@@cp{nonce}.{link_id}@@"


def _part(env: SandboxedEnvironment, source: str, nonce: str) -> Part:
    """Slots as separators when all of them are in the template's top-level static text
    (fixed order and count), else as Jinja variables."""
    ids = tuple(int(m.group(1)) for m in SLOT.finditer(source))
    tree = env.parse(source)
    crlf = not any(tree.find_all((nodes.FilterBlock, nodes.CallBlock)))
    top_level = sum(
        len(SLOT.findall(child.data))
        for node in tree.body
        if isinstance(node, nodes.Output)
        for child in node.nodes
        if isinstance(child, nodes.TemplateData)
    )
    separator = f"@@cp{nonce}@@"
    if top_level == len(ids):
        texts = SLOT.split(source)[0::2]
        skeleton: list[str] = []
        units: list[str] = []
        slot_at: list[int] = []
        unit_at: list[int] = []
        for i, text in enumerate(texts):
            if i:
                slot_at.append(len(skeleton))
                skeleton.append("")
            # The last text stays whole in the template: Jinja drops a template's final newline.
            for is_constant, chunk in _chunks(env, text, whole=i == len(texts) - 1):
                if is_constant:
                    skeleton.append(NEWLINE.sub("\r\n", chunk))
                else:
                    unit_at.append(len(skeleton))
                    skeleton.append("")
                    units.append(chunk)
        units_source = separator.join(units)
        return Part(
            env.from_string(units_source),
            ids,
            separator,
            crlf,
            tuple(skeleton),
            tuple(item.encode("utf-8") for item in skeleton),
            tuple(slot_at),
            tuple(unit_at),
            units_source,
        )

    def variable(match: re.Match[str]) -> str:
        link_id = int(match.group(1))
        return "{{ _cp_tail }}" if link_id == TAIL_ID else f"{{{{ _cp_l{link_id} }}}}"

    return Part(env.from_string(SLOT.sub(variable, source)), None, separator, crlf)


def _chunks(env: SandboxedEnvironment, text: str, *, whole: bool) -> list[tuple[bool, str]]:
    """(constant?, source) chunks of top-level template text: text without Jinja syntax is
    a constant; text whose only syntax is `{{ ... }}` is cut into constants and one unit per
    expression; anything else (blocks, comments, whitespace control) is one unit."""
    if whole or not text:
        return [(False, text)]
    if not JINJA_SYNTAX.search(text):
        return [(True, text)]
    if "{%" in text or "{#" in text:
        return [(False, text)]
    chunks: list[tuple[bool, str]] = []
    for i, chunk in enumerate(VARIABLE.split(text)):
        if not i % 2:
            if chunk:
                chunks.append((True, chunk))
            continue
        if chunk.startswith("{{-") or chunk.endswith("-}}") or not _one_expression(env, chunk):
            return [(False, text)]
        chunks.append((False, chunk))
    return chunks


def _one_expression(env: SandboxedEnvironment, source: str) -> bool:
    """Whether `source` is exactly one `{{ expression }}` (not a cut through a string)."""
    try:
        body = env.parse(source).body
    except jinja2.TemplateSyntaxError:
        return False
    return (
        len(body) == 1
        and isinstance(body[0], nodes.Output)
        and len(body[0].nodes) == 1
        and not isinstance(body[0].nodes[0], nodes.TemplateData)
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


def _with_tail(source: str, tail: str) -> str:
    ends = list(BODY_END.finditer(source))
    if not ends:
        return source + tail
    at = ends[-1].start()
    return source[:at] + tail + source[at:]


def _track_text_links(text: str, links: list[str], nonce: str) -> str:
    """In a given text part, registered URLs are rewritten like in the HTML."""
    if not links:
        return text
    by_url: Mapping[str, int] = {url: i for i, url in enumerate(links, start=1)}
    pattern = re.compile(
        "|".join(re.escape(u) for u in sorted(links, key=len, reverse=True)) + r"(?![^\s<>\"')\]])"
    )
    return pattern.sub(lambda m: _slot(nonce, by_url[m.group()]), text)
