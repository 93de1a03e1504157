"""How the proof (`proof.py`) tells what it found: each refusal names the element, the value
as the template writes it (`{{ email }}` rather than a synthetic address), the variables it
is built from or the conditions under which it appears, and the rule it breaks. Refusals are
catalogue texts (`N_`), so the admin shows them in the reader's language."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clearpixel.domain.errors import N_, ClearpixelError, Message
from clearpixel.domain.policy import MessageKind
from clearpixel.sending import outputscan

if TYPE_CHECKING:
    from clearpixel.sending.decisions import Decision
    from clearpixel.sending.proof import Render, Synthetic

PROOF_HOST = "https://proof.clearpixel.invalid"


class ProofError(ClearpixelError, ValueError):
    """The template fails the proof; the message names the element or the construct."""


class Explaining:
    """The prover's explanations (a base of `proof.Prover`, which sets these attributes)."""

    kind: MessageKind
    names: list[str]
    decisions: list[Decision]

    def _failure(self, contact: Synthetic, forced: dict[int, bool], exc: Exception) -> ProofError:
        lineno = getattr(exc, "lineno", None)
        where = Message(N_(" (line %(line)s)"), line=lineno) if lineno else ""
        if forced:
            return ProofError(
                N_("the template fails%(where)s when %(conditions)s: %(problem)s"),
                where=where,
                conditions=self._conditions(forced),
                problem=str(exc),
            )
        if contact.number == 2:
            return ProofError(
                N_("the template fails%(where)s for a contact whose values are empty: %(problem)s"),
                where=where,
                problem=str(exc),
            )
        return ProofError(
            N_("the template fails%(where)s when rendered for a sample contact: %(problem)s"),
            where=where,
            problem=str(exc),
        )

    def _conditions(self, forced: dict[int, bool]) -> Message:
        by_id = {d.id: d for d in self.decisions}
        parts = [
            Message(
                N_("the condition on line %(line)s is true")
                if v
                else N_("the condition on line %(line)s is false"),
                line=by_id[i].lineno,
            )
            for i, v in sorted(forced.items())
        ]
        return Message.joined(parts)

    def _explain(
        self,
        item: outputscan.UrlValue,
        a: outputscan.UrlValue | None,
        b: outputscan.UrlValue | None,
        first: Render,
        render: Render,
    ) -> ProofError:
        consent = self.kind is MessageKind.CONSENT_REQUEST
        rule = Message(
            N_(
                "a consent request may carry no address that differs from one recipient to "
                "another, except {{ consent_url }} and {{ unsubscribe_url }}"
            )
            if consent
            else N_(
                "a marketing email may not make the mail client load anything that differs "
                "from one recipient to another (only the platform's own pixel may, with consent)"
            )
        )
        what = item.describe()
        if item.where == "text" and item.tag == "text":
            what = N_("the address written in the text")
        if render.forced:
            return ProofError(
                N_(
                    "%(what)s (%(shown)r) appears only for some recipients: the output differs "
                    "when %(conditions)s (it is with it otherwise); %(rule)s"
                )
                if a is not None
                else N_(
                    "%(what)s (%(shown)r) appears only for some recipients: the output differs "
                    "when %(conditions)s (it is without it otherwise); %(rule)s"
                ),
                what=what,
                shown=self._readable(item.value, first.contact),
                conditions=self._conditions(render.forced),
                rule=rule,
            )
        if a is not None and b is not None and a.value != b.value and a.tag == b.tag:
            variables = self._variables(a.value, first.contact)
            return ProofError(
                N_("%(what)s is %(shown)r%(built)s: it differs per recipient; %(rule)s"),
                what=what,
                shown=self._readable(a.value, first.contact),
                built=Message(N_(", built from %(variables)s"), variables=variables)
                if variables
                else "",
                rule=rule,
            )
        shown = self._readable(item.value, render.contact if a is None else first.contact)
        if render.contact.number == 3 or first.contact.number == 3:
            return ProofError(
                N_(
                    "%(what)s (%(shown)r) appears when a contact's value contains markup: a "
                    "value reaches the HTML without escaping; %(rule)s"
                ),
                what=what,
                shown=shown,
                rule=rule,
            )
        return ProofError(
            N_("%(what)s (%(shown)r) appears for some recipients only; %(rule)s"),
            what=what,
            shown=shown,
            rule=rule,
        )

    def _variables(self, value: str, contact: Synthetic) -> str:
        found = []
        low = value.lower()
        if contact.email.lower() in low or contact.email.replace("@", "%40").lower() in low:
            found.append("{{ email }}")
        for name in self.names:
            token = str(contact.attributes[name])
            if token and token.lower() in low:
                found.append("{{ " + name + " }}")
        for name, url in contact.platform(self.kind).items():
            if url in value:
                found.append("{{ " + name + " }}")
        return ", ".join(found)

    def _readable(self, value: str, contact: Synthetic) -> str:
        out = value
        replacements = {contact.email: "{{ email }}"}
        for name in self.names:
            token = str(contact.attributes[name])
            if len(token) > 2:
                replacements[token] = "{{ " + name + " }}"
        for name, url in contact.platform(self.kind).items():
            replacements[url] = "{{ " + name + " }}"
        out = replace_all(out, replacements)
        return out if len(out) <= 160 else out[:157] + "..."


def replace_all(value: str, replacements: dict[str, str]) -> str:
    """`value` with each key replaced by its value, longest key first (a synthetic value that
    contains another is named whole)."""
    for old in sorted(replacements, key=len, reverse=True):
        if old:
            value = value.replace(old, replacements[old])
    return value
