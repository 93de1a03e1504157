"""Compile a campaign once: check its template, register its links, and turn it into parts
whose per-recipient render needs no HTML parsing (`parts.py`). This module is the slot
compiler; the rules a template must keep (R1, R3, R22) are checked in `checks.py`.

The checks, in order, each refusing with a message that names the problem:
1. Jinja syntax, and the variables the template names (`variables.py`: unknown names,
   namespaces that do not exist, platform links of another kind);
2. for marketing and consent requests, a fast look at the HTML as written
   (`checks.check_as_written`: a template expression in an auto-loaded URL, a style, between
   attributes, `|safe`);
3. the links: `javascript:`, `data:` and `vbscript:` are refused; plain http(s) links, in
   loops and conditions too, are registered (R13) and become slots;
4. the proof (`proof.py`): the compiled template rendered for synthetic contacts whose every
   value differs, each condition on the recipient forced both ways, outputs parsed and
   compared (R1, R3, R22). It also shows where the footer lands: it must be in the body, so
   elements the template leaves open are closed before it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2

from clearpixel.domain.errors import N_, ClearpixelError
from clearpixel.domain.policy import MessageKind
from clearpixel.sending import htmlscan, links, parts, proof, sandbox
from clearpixel.sending.checks import (
    PROTECTED,
    TemplateRefused,
    check_as_written,
    parse_template,
    prove,
)
from clearpixel.sending.parts import TAIL_ID, Part, crlf_lines, slot, slots_as_variables
from clearpixel.sending.sandbox import DEFAULT_LIMITS, RenderLimits
from clearpixel.sending.text import html_to_text
from clearpixel.sending.variables import check_variables

__all__ = ["Compiled", "TemplateRefused", "compile_campaign", "crlf_lines"]

BODY_END = re.compile(r"</body\s*>", re.I)

TEXT_ENV = parts.environment(autoescape=False)
HTML_PART_ENV = parts.environment(autoescape=True, crlf=True)
TEXT_PART_ENV = parts.environment(autoescape=False, crlf=True)


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
    untracked: tuple[str, ...] = ()  # links that differ per recipient, left as written
    limits: RenderLimits = DEFAULT_LIMITS

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
        units = sandbox.render(self.both, values, self.limits).split(self.html.separator)
        cut = len(self.html.unit_at)
        if len(units) != cut + len(self.text.unit_at):
            raise ValueError("a rendered value contains the slot separator")
        return (
            self.html.assemble_utf8(units[:cut], links, html_tail),
            self.text.assemble_utf8(units[cut:], links, text_tail),
        )


def compile_campaign(
    *,
    kind: MessageKind,
    subject: str,
    html: str,
    text: str | None = None,
    attributes: Collection[str] | None = None,
    limits: RenderLimits = DEFAULT_LIMITS,
) -> Compiled:
    """Check and compile a campaign template. `attributes`: the names the list's contacts
    have (None: any name is taken for an attribute). Raises TemplateRefused naming the
    problem, or LimitExceeded when a render of the proof goes over `limits`."""
    try:
        return _compile(kind, subject, html, text, attributes, limits)
    except (TemplateRefused, sandbox.LimitExceeded):
        raise
    except ClearpixelError as exc:  # a refused link, an unknown variable
        raise TemplateRefused(exc.template, **exc.values) from None
    except ValueError as exc:
        raise TemplateRefused(str(exc)) from None


def _compile(
    kind: MessageKind,
    subject: str,
    html: str,
    text: str | None,
    attributes: Collection[str] | None,
    limits: RenderLimits,
) -> Compiled:
    names = check_variables(
        parse_template(html, N_("HTML")), kind=kind, attributes=attributes, what=N_("HTML")
    )
    if text is not None:
        names |= check_variables(
            parse_template(text, N_("text")), kind=kind, attributes=attributes, what=N_("text")
        )
    names |= check_variables(
        parse_template(subject, N_("subject")), kind=kind, attributes=attributes, what=N_("subject")
    )
    tree = htmlscan.parse(html)
    resources = htmlscan.auto_loaded(tree, html)
    if kind in PROTECTED:
        check_as_written(tree, html, resources, kind)
    nonce = secrets.token_hex(16)
    registered, source = _register_links(kind, html, nonce)
    tail = slot(nonce, TAIL_ID)
    if text is None:
        text_source = html_to_text(source).rstrip("\n") + "\n" + tail
    else:
        slots = {url: slot(nonce, i) for i, url in enumerate(registered, start=1)}
        text_source = links.track_text_links(text, slots).rstrip("\n") + "\n" + tail
    html_source, outcome = _place_tail(
        source,
        tail,
        lambda candidate: proof.Prover(
            kind=kind,
            html_env=HTML_PART_ENV,
            text_env=TEXT_PART_ENV,
            html_source=slots_as_variables(candidate),
            text_source=slots_as_variables(text_source),
            subject=subject,
            names=names,
            link_count=len(registered),
            limits=limits,
        ),
    )
    subject_template = TEXT_ENV.from_string(subject) if links.EXPRESSION.search(subject) else None
    html_part = parts.make_part(HTML_PART_ENV, html_source, nonce, limits)
    text_part = parts.make_part(TEXT_PART_ENV, text_source, nonce, limits)
    return Compiled(
        kind=kind,
        links=registered,
        html=html_part,
        text=text_part,
        subject=subject_template,
        subject_text=subject,
        resources=resources,
        both=parts.both(HTML_PART_ENV, html_part, text_part),
        untracked=tuple(outcome.untracked),
        limits=limits,
    )


def _register_links(kind: MessageKind, html: str, nonce: str) -> tuple[list[str], str]:
    """The links to register (ids in document order) and the source with each tracked href
    replaced by its slot. Consent requests have no tracked links (R3)."""
    registered: list[str] = []
    replacements: list[tuple[int, int, str]] = []
    for start, end, value in links.locate(html):
        links.check_scheme(value)
        if kind is MessageKind.CONSENT_REQUEST:
            if links.EXPRESSION.search(value) and not links.consent_request_link(value):
                raise TemplateRefused(
                    N_(
                        "consent request: the link %(url)r would differ from one recipient to "
                        "another; only {{ consent_url }} and {{ unsubscribe_url }} may"
                    ),
                    url=value,
                )
            continue
        url = links.as_browser_reads(value)
        if not links.trackable(url):
            continue
        if url not in registered:
            registered.append(url)
        replacements.append((start, end, f'"{slot(nonce, registered.index(url) + 1)}"'))
    if kind is MessageKind.CONSENT_REQUEST and "consent_url" not in html:
        raise TemplateRefused(N_("a consent request template must contain {{ consent_url }}"))
    return registered, _replace(html, replacements)


def _replace(source: str, replacements: list[tuple[int, int, str]]) -> str:
    out: list[str] = []
    pos = 0
    for start, end, new in replacements:
        out.append(source[pos:start])
        out.append(new)
        pos = end
    out.append(source[pos:])
    return "".join(out)


def _place_tail(source: str, tail: str, prover_for: Any) -> tuple[str, proof.Outcome]:
    """The HTML source with the tail (pixel and footer) where it lands in the body, and the
    proof's outcome for that source. First choice: before the last `</body>`; else at the
    end. Elements the template leaves open there (an unclosed <a>, a table) are closed
    before the tail, so the footer is never inside the template's link or cell."""
    ends = list(BODY_END.finditer(source))
    candidates = []
    if ends:
        at = ends[-1].start()
        candidates.append((source[:at], source[at:]))
    candidates.append((source, ""))
    for before, after in candidates:
        candidate = before + tail + after
        outcome = prove(prover_for(candidate))
        if outcome.tail_ancestors == ["?"]:
            continue  # the tail is hidden (in a comment, a block not rendered): try the next
        if outcome.tail_ancestors:
            closers = "".join(f"</{tag}>" for tag in outcome.tail_ancestors)
            candidate = before + closers + tail + after
            outcome = prove(prover_for(candidate))
            if outcome.tail_ancestors:
                continue
        return candidate, outcome
    raise TemplateRefused(
        N_(
            "the footer cannot be placed in the body: the HTML ends inside something that "
            "hides its content (a comment, <template>, <textarea>, <title>, <style> or "
            "<script>); close it"
        )
    )
