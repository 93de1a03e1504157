"""A campaign's parts as templates whose per-recipient render needs no HTML parsing.

Every tracked `<a href>` value is a slot for the recipient's click URL, and one more slot (the
tail: pixel and footer) goes where the footer belongs; the text part gets the same slots. When
every slot sits outside Jinja blocks (the usual newsletter), a slot is a separator in the
template's static text, and the top-level text around slots and around `{{ expressions }}` is
a constant kept ready in UTF-8: per recipient, one Jinja render fills the expressions of both
parts, and its output is split at the separators and joined with the constants and the
recipient's URLs. A slot inside a block (a link in a loop or a condition) makes the part fall
back to Jinja variables (`_cp_l{link id}`, `_cp_tail`). Every render runs under the sandbox's
limits (`sandbox.render`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes
from markupsafe import Markup

from clearpixel.sending import sandbox
from clearpixel.sending.sandbox import LimitedEnvironment, RenderLimits

SLOT = re.compile(r"@@cp[0-9a-f]{32}\.(\d+)@@")
TAIL_ID = 0
JINJA_SYNTAX = re.compile(r"\{[{%#]")
FINAL_NEWLINE = re.compile(r"(?:\r\n|\r|\n)\Z")
VARIABLE = re.compile(r"(\{\{.*?\}\})", re.S)
NEWLINE = re.compile(r"\r\n|\r|\n")  # what Jinja takes for a line end in template text


def crlf_lines(value: Any) -> Any:
    """A `{{ value }}` with its line ends made CRLF (Markup stays Markup)."""
    if isinstance(value, str) and ("\n" in value or "\r" in value):
        return value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    return value


def environment(*, autoescape: bool, crlf: bool = False) -> LimitedEnvironment:
    """A limited sandbox; `crlf`: the parts' templates write CRLF line ends, as the message
    carries them, in their text (newline_sequence) and in every `{{ value }}` (finalize).
    Only a block that rewrites its own output (`{% filter %}`, `{% call %}`) escapes this;
    `Part.crlf` says so."""
    env = LimitedEnvironment(autoescape=autoescape, undefined=jinja2.Undefined)
    if crlf:
        env.finalize = crlf_lines
        env.newline_sequence = "\r\n"
    return env


def slot(nonce: str, link_id: int) -> str:
    """A placeholder no HTML parser or text conversion alters. ASCII, so that a part stays
    ASCII (cheap to encode) unless its text is not."""
    return f"@@cp{nonce}.{link_id}@@"


def slots_as_variables(source: str) -> str:
    """`source` with its slots as Jinja variables (`_cp_l{id}`, `_cp_tail`)."""

    def variable(match: re.Match[str]) -> str:
        link_id = int(match.group(1))
        return "{{ _cp_tail }}" if link_id == TAIL_ID else f"{{{{ _cp_l{link_id} }}}}"

    return SLOT.sub(variable, source)


def platform_markup(value: str) -> Markup:
    """Markup the platform built itself (its own URLs and tags), so autoescape leaves it."""
    return Markup(value)  # noqa: S704 - never contains a recipient's value


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
    limits: RenderLimits = sandbox.DEFAULT_LIMITS

    def fill(self, values: dict[str, Any], links: Sequence[str], tail: str) -> str:
        """Render with the campaign's `values` and put `links` (link id = index + 1) and
        `tail` in their places. Raises jinja2.TemplateError as Jinja does, and ValueError if a
        value forged a separator (the separator is random per compile: never in practice)."""
        if self.slots is None:
            values["_cp_tail"] = platform_markup(tail)
            for link_id, url in enumerate(links, start=1):
                values[f"_cp_l{link_id}"] = platform_markup(url)
            return sandbox.render(self.template, values, self.limits)
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
        units = sandbox.render(self.template, values, self.limits).split(self.separator)
        if len(units) != len(self.unit_at):
            raise ValueError("a rendered value contains the slot separator")
        return units


def both(env: LimitedEnvironment, html: Part, text: Part) -> jinja2.Template | None:
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
        return env.from_string(source)
    except jinja2.TemplateSyntaxError:
        return None


def make_part(
    env: LimitedEnvironment, source: str, nonce: str, limits: RenderLimits = sandbox.DEFAULT_LIMITS
) -> Part:
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
            limits,
        )

    return Part(env.from_string(slots_as_variables(source)), None, separator, crlf, limits=limits)


def _chunks(env: LimitedEnvironment, text: str, *, whole: bool) -> list[tuple[bool, str]]:
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


def _one_expression(env: LimitedEnvironment, source: str) -> bool:
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
