"""Which conditions of a template may depend on the recipient, and a copy of the template in
which each of them can be forced either way.

A name is recipient data when the template does not define it (the contact's values, the
platform's per-recipient URLs), or when it is assigned from recipient data or under a
condition or loop that depends on it (a fixpoint over `{% set %}`, `{% for %}`, `{% with %}`,
namespaces and macro arguments). A condition (`{% if %}`, `{% elif %}`, `x if c else y`, a
loop's `if`) that reads such a name is a decision. `forcing_template` wraps each decision's
test in `_cp_decide(id, test)`, which returns the test's own value unless the current render
forces that id; `proof.py` renders with each decision forced both ways, so markup that only
some recipients would get is seen."""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

_FORCED: ContextVar[dict[int, bool] | None] = ContextVar("clearpixel_forced", default=None)


@dataclass(frozen=True, slots=True)
class Decision:
    """A condition that may depend on the recipient; `path` forces its enclosing decisions so
    that it is reached."""

    id: int
    lineno: int
    path: tuple[tuple[int, bool], ...]


def decide(decision_id: int, value: Any) -> bool:
    """The test's value, unless the current render forces this decision."""
    forced = _FORCED.get()
    if forced is not None and decision_id in forced:
        return forced[decision_id]
    return bool(value)


def forcing(forced: dict[int, bool]) -> Any:
    """Token for `_FORCED.reset`; set before a render, reset after."""
    return _FORCED.set(forced)


def release(token: Any) -> None:
    _FORCED.reset(token)


def _names(node: nodes.Node | None) -> set[str]:
    if node is None:
        return set()
    found = {n.name for n in node.find_all(nodes.Name)}
    if isinstance(node, nodes.Name):
        found.add(node.name)
    found |= {n.name for n in node.find_all(nodes.NSRef)}
    return found


def _targets(node: nodes.Node) -> set[str]:
    if isinstance(node, nodes.Name):
        return {node.name}
    if isinstance(node, nodes.NSRef):
        return {node.name}
    return {n.name for n in node.find_all(nodes.Name)} | {
        n.name for n in node.find_all(nodes.NSRef)
    }


class _Taint:
    """The fixpoint: names that may hold recipient data."""

    def __init__(self, tree: nodes.Template, globals_: set[str]) -> None:
        self.tree = tree
        self.tainted = set(meta.find_undeclared_variables(tree)) - globals_
        self.macros = {m.name: m for m in tree.find_all(nodes.Macro)}
        changed = True
        while changed:
            before = len(self.tainted)
            self._body(tree.body, control=False)
            changed = len(self.tainted) != before

    def hit(self, node: nodes.Node | None) -> bool:
        return bool(_names(node) & self.tainted)

    def _add(self, names: set[str]) -> None:
        self.tainted |= names

    def _body(self, body: list[nodes.Node], *, control: bool) -> None:
        for node in body:
            self._node(node, control=control)

    def _node(self, node: nodes.Node, *, control: bool) -> None:
        if isinstance(node, nodes.Assign):
            if control or self.hit(node.node):
                self._add(_targets(node.target))
        elif isinstance(node, nodes.AssignBlock):
            if control or any(self.hit(n) for n in node.body):
                self._add(_targets(node.target))
            self._body(node.body, control=control)
        elif isinstance(node, nodes.For):
            hot = control or self.hit(node.iter)
            if hot:
                self._add(_targets(node.target) | {"loop"})
            self._body(node.body, control=hot or self.hit(node.test))
            self._body(node.else_, control=hot)
        elif isinstance(node, nodes.If):
            hot = control or self.hit(node.test)
            self._body(node.body, control=hot)
            for elif_ in node.elif_:
                self._node(elif_, control=hot)
            self._body(node.else_, control=hot)
        elif isinstance(node, nodes.With):
            for target, value in zip(node.targets, node.values, strict=False):
                if control or self.hit(value):
                    self._add(_targets(target))
            self._body(node.body, control=control)
        elif isinstance(node, nodes.Macro):
            self._macro(node)
            self._body(node.body, control=False)
        elif isinstance(node, nodes.CallBlock):
            self._add({a.name for a in node.args})  # caller() arguments: conservative
            self._body(node.body, control=control)
        elif isinstance(node, nodes.FilterBlock | nodes.Scope | nodes.ScopedEvalContextModifier):
            self._body(node.body, control=control)
        elif isinstance(node, nodes.Output | nodes.ExprStmt):
            return

    def _macro(self, macro: nodes.Macro) -> None:
        """A macro's arguments hold recipient data when a call passes some, or a default does."""
        params = [a.name for a in macro.args]
        with_default = params[len(params) - len(macro.defaults) :]
        defaults = dict(zip(with_default, macro.defaults, strict=True))
        for name, default in defaults.items():
            if self.hit(default):
                self._add({name})
        for call in self.tree.find_all(nodes.Call):
            if not (isinstance(call.node, nodes.Name) and call.node.name == macro.name):
                continue
            for i, arg in enumerate(call.args):
                if self.hit(arg):
                    self._add({params[i]} if i < len(params) else {"varargs"})
            for kw in call.kwargs:
                if self.hit(kw.value):
                    self._add({kw.key})
            if self.hit(call.dyn_args) or self.hit(call.dyn_kwargs):
                self._add(set(params))


def _decision_nodes(
    body: list[nodes.Node], taint: _Taint, path: tuple[tuple[int, bool], ...]
) -> Iterator[tuple[nodes.Node, tuple[tuple[int, bool], ...]]]:
    """(node, path) for every decision, in document order, with the enclosing decisions that
    must be forced for it to be reached. Node ids are assigned by the caller."""
    for node in body:
        yield from _decisions_in(node, taint, path)


def _decisions_in(
    node: nodes.Node, taint: _Taint, path: tuple[tuple[int, bool], ...]
) -> Iterator[tuple[nodes.Node, tuple[tuple[int, bool], ...]]]:
    if isinstance(node, nodes.If):
        mine = taint.hit(node.test)
        if mine:
            yield node, path
        key = id(node)
        yield from _decision_nodes(node.body, taint, (*path, (key, True)) if mine else path)
        else_path = (*path, (key, False)) if mine else path
        for elif_ in node.elif_:
            yield from _decisions_in(elif_, taint, else_path)
        yield from _decision_nodes(node.else_, taint, else_path)
        return
    if isinstance(node, nodes.For) and node.test is not None and taint.hit(node.test):
        yield node, path
    for cond in _own_cond_exprs(node):
        if taint.hit(cond.test):
            yield cond, path
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Stmt | nodes.Template):
            yield from _decisions_in(child, taint, path)


def _own_cond_exprs(node: nodes.Node) -> Iterator[nodes.CondExpr]:
    """Conditional expressions in this statement's own expressions (not in nested
    statements, which are visited on their own)."""
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Stmt):
            continue
        if isinstance(child, nodes.CondExpr):
            yield child
        yield from (c for c in child.find_all(nodes.CondExpr))


def forcing_template(
    env: SandboxedEnvironment, source: str, *, first_id: int = 1
) -> tuple[nodes.Template, list[Decision]]:
    """The parsed `source` with each decision's test routed through `_cp_decide`, and the
    decisions in document order."""
    tree = env.parse(source)
    taint = _Taint(tree, set(env.globals))
    found: list[Decision] = []
    ids: dict[int, int] = {}
    for node, path in _decision_nodes(tree.body, taint, ()):
        number = first_id + len(found)
        ids[id(node)] = number
        found.append(Decision(number, node.lineno, tuple((ids[key], value) for key, value in path)))
        node.test = nodes.Call(  # type: ignore[attr-defined]
            nodes.Name("_cp_decide", "load"),
            [nodes.Const(number), node.test],  # type: ignore[attr-defined]
            [],
            None,
            None,
            lineno=node.lineno,
        )
    return tree, found
