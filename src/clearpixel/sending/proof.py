"""The create-time proof that a template gives no recipient a personal auto-loaded URL (R1)
and gives a consent request no per-recipient URL but its own two links (R3): the template is
judged by what it produces (R22), so no template syntax can hide a tag from the check.

The compiled template is rendered, exactly as it will be sent (tracked links, platform URLs),
for synthetic contacts whose every value differs: tokens, numbers, empty values, and values
made of markup (a value that reaches the HTML unescaped then adds an element). Each condition
that may depend on the recipient (`decisions.py`) is also forced true and false. Every output
is parsed (`outputscan.py`) and its list of auto-loaded URLs must be the same in all of them;
for a consent request, every URL of the HTML, the text and the subject must be, once the
contact's consent and unsubscribe links are set aside. The first difference is refused,
naming the element and, when it can, the variable or the condition's line.

The same renders show which links the tracker could not rewrite (built by template syntax or
per recipient) and where the footer lands. This runs once per campaign (create and send),
never per recipient.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from clearpixel.domain.errors import N_
from clearpixel.domain.policy import MessageKind
from clearpixel.sending import decisions, outputscan, sandbox
from clearpixel.sending.parts import platform_markup
from clearpixel.sending.proof_explain import PROOF_HOST, Explaining, replace_all
from clearpixel.sending.proof_explain import ProofError as ProofError
from clearpixel.sending.values import template_values

CLICK_PREFIX = f"{PROOF_HOST}/c/"
MAX_FORCED_RENDERS = 400
ALL_COMBINATIONS_UP_TO = 5  # decisions: below this, every combination is rendered
TAIL_TAG = "cp-tail-marker"


@dataclass(frozen=True, slots=True)
class Synthetic:
    """One made-up contact for the proof."""

    number: int
    email: str
    attributes: dict[str, Any]

    def platform(self, kind: MessageKind) -> dict[str, str]:
        n = self.number
        urls = {"preferences_url": f"{PROOF_HOST}/preferences/p{n}"}
        if kind in (MessageKind.MARKETING, MessageKind.CONSENT_REQUEST):
            urls["unsubscribe_url"] = f"{PROOF_HOST}/unsubscribe/u{n}"
        if kind is MessageKind.CONSENT_REQUEST:
            urls["consent_url"] = f"{PROOF_HOST}/consent/k{n}"
            del urls["preferences_url"]
        return urls


class _Attributes(dict[str, Any]):
    """A synthetic contact's attributes: any name a template reads has a value."""

    def __init__(self, make: Callable[[str], str]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: str) -> Any:
        return self.make(key)


def synthetic_contacts(names: Collection[str]) -> list[Synthetic]:
    """Contacts whose every value differs from the others': distinct tokens, numbers, empty
    values, and markup that would show up as an element if a value reached the HTML raw."""

    sorted_names = sorted(names)

    def token(n: int, name: str) -> str:
        return f"Q{n}x{name.replace('_', '')}Z"

    makers: list[Callable[[str], str]] = [
        lambda name: token(0, name),
        lambda name: str(4711 + 10 * sorted_names.index(name)) if name in sorted_names else "91",
        lambda name: "",
        lambda name: f'"><img src="cpleak-{name}.png"><a href="cpleak-{name}">',
    ]
    emails = [
        "q0xemailz@q0xdomainz.example",
        "b4712@c4712.example.net",
        "e@e.example",
        '"><img src="cpleak-email.png"><a href="cpleak-email">@x.example',
    ]
    contacts = []
    for n, (make, email) in enumerate(zip(makers, emails, strict=True)):
        attributes = _Attributes(make)
        for name in sorted_names:
            attributes[name] = make(name)
        contacts.append(Synthetic(n, email, attributes))
    return contacts


@dataclass
class Render:
    """One proof render: the outputs and what forced it."""

    contact: Synthetic
    forced: dict[int, bool]
    html: str
    text: str
    subject: str
    tracked_links: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """What the proof found besides refusals."""

    untracked: list[str] = field(default_factory=list)  # per-recipient links, left as written
    tail_ancestors: list[str] = field(default_factory=list)  # elements the footer lands in


class Prover(Explaining):
    """Renders one compiled campaign for synthetic contacts and compares the outputs."""

    def __init__(
        self,
        *,
        kind: MessageKind,
        html_env: SandboxedEnvironment,
        text_env: SandboxedEnvironment,
        html_source: str,
        text_source: str,
        subject: str,
        names: Collection[str],
        link_count: int,
        limits: sandbox.RenderLimits,
    ) -> None:
        self.kind = kind
        self.limits = limits
        self.link_count = link_count
        self.contacts = synthetic_contacts(names)
        self.names = sorted(names)
        html_tree, html_decisions = decisions.forcing_template(html_env, html_source)
        text_tree, text_decisions = decisions.forcing_template(
            text_env, text_source, first_id=len(html_decisions) + 1
        )
        subject_tree, subject_decisions = decisions.forcing_template(
            text_env, subject, first_id=len(html_decisions) + len(text_decisions) + 1
        )
        self.decisions = [*html_decisions, *text_decisions, *subject_decisions]
        self.html = html_env.from_string(html_tree)
        self.text = text_env.from_string(text_tree)
        self.subject = text_env.from_string(subject_tree)

    def render(self, contact: Synthetic, forced: dict[int, bool]) -> Render:
        links = [f"{CLICK_PREFIX}{contact.number}/{i}" for i in range(1, self.link_count + 1)]
        values = template_values(contact.email, contact.attributes, contact.platform(self.kind))
        values["_cp_decide"] = decisions.decide
        for link_id, url in enumerate(links, start=1):
            values[f"_cp_l{link_id}"] = platform_markup(url)
        values["_cp_tail"] = platform_markup(f"<{TAIL_TAG}></{TAIL_TAG}>")
        token = decisions.forcing(forced)
        try:
            html = sandbox.render(self.html, dict(values), self.limits)
            text = sandbox.render(self.text, dict(values), self.limits)
            subject = sandbox.render(self.subject, dict(values), self.limits)
        except sandbox.LimitExceeded:
            raise
        except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
            raise self._failure(contact, forced, exc) from None
        finally:
            decisions.release(token)
        return Render(contact, forced, html, text, subject, links)

    def renders(self) -> list[Render]:
        """Natural renders of every synthetic contact, then forced renders of the first."""
        done = [self.render(c, {}) for c in self.contacts]
        base = self.contacts[0]
        for forced in self._forcings():
            done.append(self.render(base, forced))
        return done

    def _forcings(self) -> list[dict[int, bool]]:
        ids = [d.id for d in self.decisions]
        if not ids:
            return []
        if len(ids) <= ALL_COMBINATIONS_UP_TO:
            return [
                dict(zip(ids, values, strict=True))
                for values in itertools.product((True, False), repeat=len(ids))
            ]
        if 2 * len(ids) > MAX_FORCED_RENDERS:
            raise ProofError(
                N_(
                    "the template has %(n)s conditions that depend on the recipient; at most "
                    "%(most)s can be checked"
                ),
                n=len(ids),
                most=MAX_FORCED_RENDERS // 2,
            )
        out = []
        for d in self.decisions:
            for value in (True, False):
                out.append({**dict(d.path), d.id: value})
        return out

    # --- comparisons ---------------------------------------------------------------------

    def check(self, renders: Sequence[Render]) -> Outcome:
        """Refuse (ProofError) when the outputs differ where the kind allows no difference."""
        first = renders[0]
        protected = self.kind in (MessageKind.MARKETING, MessageKind.CONSENT_REQUEST)
        if protected:
            reference = self._fingerprint(first)
            for other in renders[1:]:
                self._compare(reference, self._fingerprint(other), first, other)
        return Outcome(
            untracked=self._untracked(renders), tail_ancestors=self._tail_ancestors(first)
        )

    def _fingerprint(self, render: Render) -> list[outputscan.UrlValue]:
        consent = self.kind is MessageKind.CONSENT_REQUEST
        items = outputscan.scan(render.html, links=consent)
        if consent:
            items += outputscan.text_urls(render.text) + outputscan.text_urls(render.subject)
            platform = render.contact.platform(self.kind)
            names = {url: "{{ " + name + " }}" for name, url in platform.items()}
            # a consent request's own links may differ, as links; never as something loaded
            items = [
                i
                if i.loads
                else outputscan.UrlValue(
                    i.tag, i.attribute, replace_all(i.value, names), i.where, False
                )
                for i in items
            ]
        return items

    def _compare(
        self,
        reference: list[outputscan.UrlValue],
        other: list[outputscan.UrlValue],
        first: Render,
        render: Render,
    ) -> None:
        for a, b in itertools.zip_longest(reference, other):
            if a == b:
                continue
            item = a if a is not None else b
            assert item is not None
            raise self._explain(item, a, b, first, render)

    def _untracked(self, renders: Sequence[Render]) -> list[str]:
        """http(s) links in the outputs that are neither tracked nor the platform's. One that
        every sample contact gets alike could have been tracked: refused, naming it. The
        others depend on the recipient and cannot be tracked (a click may only reach a
        registered URL): noted, and left as written."""
        if self.kind is MessageKind.CONSENT_REQUEST:
            return []
        natural = [r for r in renders if not r.forced and r.contact.number != 2]
        seen = [set(self._plain_links(r)) for r in natural]
        for render in renders:
            if render.contact.number == 2:
                continue
            for href in self._plain_links(render):
                if all(href in links for links in seen) and not self._variables(
                    href, render.contact
                ):
                    raise ProofError(
                        N_(
                            "the link %(url)r is built with template syntax the tracker cannot "
                            'rewrite; write its address plainly in <a href="..."> (links in '
                            "loops and conditions are tracked when their address is written "
                            "plainly)"
                        ),
                        url=href,
                    )
        notes: list[str] = []
        for href in self._plain_links(natural[0]):
            shown = self._readable(href, natural[0].contact)
            if shown not in notes and len(notes) < 5:
                notes.append(shown)
        return notes

    def _plain_links(self, render: Render) -> list[str]:
        platform = set(render.contact.platform(self.kind).values())
        return [
            href
            for href in outputscan.links(render.html)
            if href.lower().startswith(("http://", "https://"))
            and href not in platform
            and not href.startswith(PROOF_HOST)
        ]

    def _tail_ancestors(self, render: Render) -> list[str]:
        """The elements, innermost first, that are still open where the footer goes."""
        found = outputscan.tail_ancestors(render.html, TAIL_TAG)
        return ["?"] if found is None else found
