"""The rules a campaign template must keep before it is compiled, each refusing with a
message that names the tag or construct: Jinja syntax, the as-written look at marketing and
consent-request HTML (R1, R3: no template expression where a mail client loads an address,
no way around autoescaping), and the proof that judges what the template produces (R22,
`proof.py`)."""

from __future__ import annotations

import jinja2
from jinja2 import nodes
from selectolax.lexbor import LexborHTMLParser

from clearpixel.domain.errors import N_, ClearpixelError, Message
from clearpixel.domain.policy import MessageKind
from clearpixel.sending import htmlscan, links, parts, proof

# Kinds that R1 and R3 protect: no per-recipient value in auto-loaded URLs.
PROTECTED = frozenset({MessageKind.MARKETING, MessageKind.CONSENT_REQUEST})

HTML_ENV = parts.environment(autoescape=True)


class TemplateRefused(ClearpixelError, ValueError):
    """A campaign template that breaks a rule; the message names the tag or construct."""


def parse_template(source: str, what: str) -> nodes.Template:
    """The Jinja syntax tree of `source`; a syntax error refused with its line."""
    try:
        return HTML_ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateRefused(
            N_("%(what)s template, line %(line)s: %(problem)s"),
            what=what,
            line=exc.lineno,
            problem=exc.message or "",
        ) from None


def prove(prover: proof.Prover) -> proof.Outcome:
    """The proof's outcome (R1, R3, R22 judged on what the template produces); a template
    that breaks one refused naming it."""
    try:
        return prover.check(prover.renders())
    except proof.ProofError as exc:
        raise TemplateRefused(exc.template, **exc.values) from None


def check_as_written(
    tree: LexborHTMLParser,
    source: str,
    resources: list[htmlscan.Resource],
    kind: MessageKind,
) -> None:
    """A fast first look at marketing and consent-request HTML as written: no template
    expression in an auto-loaded URL, in a style, or between a tag's attributes, and no way
    around autoescaping. (The proof then judges what the template produces.)"""
    rule = Message(
        N_(
            "%(kind)s emails may not make the mail client load an address that depends on "
            "the recipient"
        ),
        kind=kind.value.replace("_", " "),
    )
    for resource in [*resources, *htmlscan.raw_resources(source)]:
        if links.EXPRESSION.search(resource.url):
            raise TemplateRefused(
                N_("%(what)s loads %(url)r, which contains a template expression: %(rule)s"),
                what=resource.describe(),
                url=resource.url,
                rule=rule,
            )
    for node in htmlscan.elements(tree):
        tag = (node.tag or "").lower()
        for name, value in node.attributes.items():
            if "{" in name or "}" in name or "%" in name:
                raise TemplateRefused(
                    N_("<%(tag)s> has a template expression among its attributes: %(rule)s"),
                    tag=tag,
                    rule=rule,
                )
            if name.lower() == "style" and value and links.EXPRESSION.search(value):
                raise TemplateRefused(
                    N_("<%(tag)s style> contains a template expression: %(rule)s"),
                    tag=tag,
                    rule=rule,
                )
        if tag == "style" and links.EXPRESSION.search(node.text(deep=True)):
            raise TemplateRefused(N_("<style> contains a template expression: %(rule)s"), rule=rule)
    for match in htmlscan.CONDITIONAL_COMMENT.finditer(source):
        if links.EXPRESSION.search(match.group(1)):
            raise TemplateRefused(
                N_(
                    "a conditional comment (<!--[if ...]>) contains a template expression: %(rule)s"
                ),
                rule=rule,
            )
    for found in parse_template(source, "HTML").find_all(
        (nodes.Filter, nodes.ScopedEvalContextModifier, nodes.EvalContextModifier)
    ):
        if isinstance(found, nodes.Filter) and found.name != "safe":
            continue
        safe = isinstance(found, nodes.Filter)
        raise TemplateRefused(
            N_("%(what)s (line %(line)s) would let a value write markup: %(rule)s"),
            what=N_("the |safe filter") if safe else N_("an autoescape block"),
            line=found.lineno,
            rule=rule,
        )
