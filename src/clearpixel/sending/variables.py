"""The variables a campaign template may use, by message kind, checked when the campaign is
created: a name that does not exist is refused with its line, instead of rendering as empty
text (or failing for every recipient at send time).

What exists (README, "Template variables"): `email`; `contact.email`; `contact.attributes`;
every attribute of the list's contacts as a variable of its own (when its name is an
identifier and not one of the platform's names); `preferences_url` (every kind but consent
requests); `unsubscribe_url` (marketing and consent requests); `consent_url` (consent
requests); Jinja's own globals (`range`, `dict`, `cycler`, `joiner`, `namespace`, `lipsum`).
"""

from __future__ import annotations

from collections.abc import Collection

from jinja2 import meta, nodes

from clearpixel.domain.errors import N_, ClearpixelError, Message
from clearpixel.domain.policy import MessageKind

COMMON = frozenset({"email", "contact"})
PLATFORM: dict[MessageKind, frozenset[str]] = {
    MessageKind.MARKETING: COMMON | {"preferences_url", "unsubscribe_url"},
    MessageKind.TRANSACTIONAL: COMMON | {"preferences_url"},
    MessageKind.SECURITY: COMMON | {"preferences_url"},
    MessageKind.CONSENT_REQUEST: COMMON | {"consent_url", "unsubscribe_url"},
}
JINJA_GLOBALS = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace"})
CONTACT_FIELDS = frozenset({"email", "attributes"})


class UnknownVariable(ClearpixelError, ValueError):
    """A template names a variable that does not exist for its kind; the message says which,
    where, and what exists."""


def _first_line(tree: nodes.Template, name: str) -> int:
    lines = [n.lineno for n in tree.find_all(nodes.Name) if n.name == name and n.ctx == "load"]
    return min(lines, default=1)


def _contact_reads(tree: nodes.Template) -> list[tuple[str, str | None, int]]:
    """(field, attribute or None, line) of each `contact.FIELD[.NAME]` the template reads."""
    found: list[tuple[str, str | None, int]] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        inner = node.node
        if isinstance(inner, nodes.Name) and inner.name == "contact":
            field = _key(node)
            if field is not None:
                found.append((field, None, node.lineno))
        elif (
            isinstance(inner, nodes.Getattr | nodes.Getitem)
            and isinstance(inner.node, nodes.Name)
            and inner.node.name == "contact"
            and _key(inner) == "attributes"
        ):
            found.append(("attributes", _key(node), node.lineno))
    return found


def _key(node: nodes.Getattr | nodes.Getitem) -> str | None:
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None


def check_variables(
    tree: nodes.Template,
    *,
    kind: MessageKind,
    attributes: Collection[str] | None,
    what: str,
) -> set[str]:
    """The contact attributes `tree` reads (as variables or through `contact.attributes`).
    Raises UnknownVariable for a name that does not exist: with `attributes` (the names the
    list's contacts have), an attribute outside it; without, only platform names of another
    kind and namespaces that do not exist."""
    platform = PLATFORM[kind]
    used: set[str] = set()
    free = meta.find_undeclared_variables(tree)
    for name in sorted(free, key=lambda n: (_first_line(tree, n), n)):
        if name in platform or name in JINJA_GLOBALS:
            continue
        line = _first_line(tree, name)
        elsewhere = [k.value for k, names in PLATFORM.items() if name in names]
        if elsewhere:
            raise UnknownVariable(
                N_(
                    "%(what)s template, line %(line)s: {{ %(name)s }} does not exist in "
                    "%(kind)s emails (only in %(elsewhere)s emails)"
                ),
                what=what,
                line=line,
                name=name,
                kind=kind.value.replace("_", " "),
                elsewhere=Message.joined([Message(k.replace("_", " ")) for k in elsewhere]),
            )
        if name == "attributes":
            raise UnknownVariable(
                N_(
                    "%(what)s template, line %(line)s: there is no variable 'attributes'; a "
                    "contact attribute is a variable of its own ({{ locale }}) or "
                    "{{ contact.attributes.locale }}"
                ),
                what=what,
                line=line,
            )
        if attributes is not None and name not in attributes:
            raise _unknown(what, line, name, attributes)
        used.add(name)
    if "contact" in free:
        for field, attribute, line in _contact_reads(tree):
            if field not in CONTACT_FIELDS:
                raise UnknownVariable(
                    N_(
                        "%(what)s template, line %(line)s: contact has no %(field)r; it has "
                        "contact.email and contact.attributes"
                    ),
                    what=what,
                    line=line,
                    field=field,
                )
            if attribute is None:
                continue
            if attributes is not None and attribute not in attributes:
                raise _unknown(what, line, f"contact.attributes.{attribute}", attributes)
            used.add(attribute)
    return used


def _unknown(what: str, line: int, name: str, attributes: Collection[str]) -> UnknownVariable:
    known = sorted(attributes)
    listed = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
    have = (
        Message(N_("the list's contacts have: %(listed)s"), listed=listed)
        if known
        else Message(N_("the list's contacts have none"))
    )
    return UnknownVariable(
        N_(
            "%(what)s template, line %(line)s: unknown variable %(name)r (it would be empty "
            "for everyone); %(have)s; besides email, contact and the platform's links"
        ),
        what=what,
        line=line,
        name=name,
        have=have,
    )
