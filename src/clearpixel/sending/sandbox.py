"""The template sandbox: Jinja's SandboxedEnvironment, plus limits on what one render may cost.

A campaign template is code written by whoever may create campaigns, run for every recipient,
for a preview and for the create-time checks. Jinja's sandbox stops it from reaching Python
internals but not from running for hours or filling memory (`range(100000)` nested twice,
`'x' * 10**9`, a string doubled forty times). Here every render runs under a budget
(`RenderLimits`): loop iterations, bytes of output (what `{{ }}` writes and the static text
repeated by loops and macros, captured blocks included), and wall-clock time. Operations that
could allocate a huge value in one step (`*`, `**`, `+`, `%`, `~`, `|format`, `|replace`,
`|join`, widths and counts given to filters and string methods) are checked before they run.
Going over a limit raises `LimitExceeded`, whose message names the limit.

The checks are added when a template is compiled (`_generate`): each `{% for %}` iterates
through `_cp_loop`, each `~` goes through `_cp_sized`, and each loop, macro and call body
charges its static text on entry (`_cp_spend`) and each expression it writes (`_cp_out`).
Outside those bodies every piece is written once, so a template without loops pays only for
setting the budget.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from clearpixel.domain.errors import ClearpixelError

MAX_NUMBER_ARGUMENT = 10_000  # a width, count or size given to a filter or a string method
MAX_INT_BITS = 4_096
WIDE_FORMAT = re.compile(r"%[-+ #0]*(?:\d{5,}|\*)|\{[^{}]*:[^{}]*\d{5,}")


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """What one render of one template may cost."""

    iterations: int = 100_000
    output_bytes: int = 5_000_000
    seconds: float = 5.0


DEFAULT_LIMITS = RenderLimits()


class LimitExceeded(ClearpixelError):
    """A render went over a limit; the message names it."""


class Budget:
    """What is left of one render's limits."""

    __slots__ = ("deadline", "iterations", "limits", "output")

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.iterations = limits.iterations
        self.output = limits.output_bytes
        self.deadline = time.monotonic() + limits.seconds

    def spend_output(self, size: int) -> None:
        self.output -= size
        if self.output < 0:
            raise LimitExceeded(
                f"the template writes more than {self.limits.output_bytes:,} characters "
                "for one recipient (output limit)"
            )

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitExceeded(
                f"rendering the template for one recipient takes more than "
                f"{self.limits.seconds:g} seconds (time limit)"
            )


_BUDGET: ContextVar[Budget | None] = ContextVar("clearpixel_render_budget", default=None)


def render(
    template: jinja2.Template, values: dict[str, Any], limits: RenderLimits = DEFAULT_LIMITS
) -> str:
    """`template.render(values)` under `limits`. Raises LimitExceeded, or what Jinja raises."""
    token = _BUDGET.set(Budget(limits))
    try:
        return template.render(values)
    except RecursionError:
        raise LimitExceeded("the template calls itself too deeply (recursion limit)") from None
    except MemoryError:
        raise LimitExceeded("the template needs more memory than a message may use") from None
    finally:
        _BUDGET.reset(token)


def _budget() -> Budget | None:
    return _BUDGET.get()


def _too_big(size: int) -> None:
    budget = _budget()
    limit = budget.limits.output_bytes if budget else DEFAULT_LIMITS.output_bytes
    if size > limit:
        raise LimitExceeded(
            f"the template builds a value of more than {limit:,} characters (output limit)"
        )


def _loop(iterable: Iterable[Any]) -> Iterator[Any]:
    """Every `{% for %}` iterates through this: it counts iterations and watches the clock."""
    budget = _budget()
    if budget is None:
        yield from iterable
        return
    for item in iterable:
        budget.iterations -= 1
        if budget.iterations < 0:
            raise LimitExceeded(
                f"the template runs more than {budget.limits.iterations:,} loop iterations "
                "for one recipient (loop limit)"
            )
        if not budget.iterations & 63:
            budget.check_time()
        yield item


def _spend(size: int) -> str:
    """Charges the static text of a loop, macro or call body each time it runs."""
    budget = _budget()
    if budget is not None:
        budget.spend_output(size)
    return ""


def _out(value: Any) -> Any:
    """An expression written inside a loop, macro or call body: counted against the output
    limit."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.spend_output(len(value) if isinstance(value, str) else 16)
    return value


def _sized(value: Any) -> Any:
    """The result of `~`, refused when too long."""
    if isinstance(value, str):
        _too_big(len(value))
    return value


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


def _check_numbers(args: Iterable[Any]) -> None:
    for arg in args:
        if type(arg) is int and abs(arg) > MAX_NUMBER_ARGUMENT:
            raise LimitExceeded(
                f"the template passes {arg} where at most {MAX_NUMBER_ARGUMENT:,} is allowed "
                "(a width, count or size given to a filter or method)"
            )


def _check_format(fmt: Any) -> None:
    if isinstance(fmt, str) and WIDE_FORMAT.search(fmt):
        raise LimitExceeded("the template formats a value with a width of 10,000 or more")


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` with its numeric arguments bounded and its result size checked first where the
    filter can multiply its input (`replace`, `join`, `format`)."""

    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        values = [a for a in args if not isinstance(a, jinja2.runtime.Context)]
        _check_numbers(values)
        _check_numbers(kwargs.values())
        if name == "format" and values:
            _check_format(values[0])
        elif name == "replace" and len(values) >= 3:
            text, old, new = (str(v) for v in values[:3])
            _too_big(len(text) + (text.count(old) + 1 if old else len(text) + 1) * len(new))
        elif name == "join" and values:
            seq = values[0]
            if isinstance(seq, list | tuple):
                sep = values[1] if len(values) > 1 else kwargs.get("d", "")
                _too_big(len(seq) * _size(sep) + sum(_size(v) for v in seq))
        result = func(*args, **kwargs)
        if isinstance(result, str):
            _too_big(len(result))
        return result

    return guarded


class LimitedEnvironment(SandboxedEnvironment):
    """A sandbox whose renders respect the current `Budget` (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals.update(_cp_loop=_loop, _cp_spend=_spend, _cp_sized=_sized, _cp_out=_out)
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    _too_big(len(seq) * max(times, 0))
            if isinstance(left, int) and isinstance(right, int):
                self._check_bits(left.bit_length() + right.bit_length())
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            self._check_bits(abs(left).bit_length() * max(right, 0))
        elif operator == "+" and isinstance(left, str | list | tuple):
            _too_big(len(left) + _size(right))
        elif operator == "%":
            _check_format(left)
        return super().call_binop(context, operator, left, right)

    @staticmethod
    def _check_bits(bits: int) -> None:
        if bits > MAX_INT_BITS:
            raise LimitExceeded("the template computes a number too large for an email")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = _budget()
        if budget is not None:
            budget.check_time()
        if __obj is not _loop and getattr(__obj, "__name__", "") != "safe_range":
            _check_numbers(args)
            _check_numbers(kwargs.values())
        if getattr(__obj, "__name__", "") == "format":
            _check_format(getattr(__obj, "__self__", None))
        result = SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
        if isinstance(result, str):
            _too_big(len(result))
        return result

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        _add_checks(source)
        return super()._generate(source, name, filename, defer_init)


REPEATED = (nodes.For, nodes.Macro, nodes.CallBlock)  # bodies that may run many times


def _add_checks(tree: nodes.Template) -> None:
    """Route loops and `~` through the budget, and charge what each repeated body writes:
    its static text on entry, each of its `{{ expressions }}` as written. (Outside loops,
    macros and calls, a template writes each piece once: its size is bounded already.)"""
    everything = list(tree.find_all(nodes.Node))
    for node in everything:
        if isinstance(node, nodes.For):
            node.iter = _call("_cp_loop", node.iter, lineno=node.lineno)
        if isinstance(node, REPEATED):
            for output in _outputs(node.body):
                output.nodes = [
                    item
                    if isinstance(item, nodes.TemplateData)
                    else _call("_cp_out", item, lineno=item.lineno)
                    for item in output.nodes
                ]
            static = _static_size(node.body)
            if static:
                spend = _call("_cp_spend", nodes.Const(static), lineno=node.lineno)
                node.body.insert(0, nodes.Output([spend], lineno=node.lineno))
        for field_name, value in node.iter_fields():
            if isinstance(value, nodes.Concat):
                setattr(node, field_name, _call("_cp_sized", value, lineno=value.lineno))
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, nodes.Concat):
                        value[i] = _call("_cp_sized", item, lineno=item.lineno)


def _outputs(body: list[nodes.Node]) -> list[nodes.Output]:
    """The Output statements of a body, without those of the repeated bodies inside it
    (which wrap their own)."""
    found: list[nodes.Output] = []
    for node in body:
        if isinstance(node, nodes.Output):
            found.append(node)
        elif not isinstance(node, REPEATED):
            found.extend(
                _outputs([c for c in node.iter_child_nodes() if isinstance(c, nodes.Stmt)])
            )
    return found


def _static_size(body: list[nodes.Node]) -> int:
    """The static text a body may write each time it runs (every branch counted), without
    the bodies inside it that charge for themselves."""
    size = 0
    for node in body:
        if isinstance(node, nodes.TemplateData):
            size += len(node.data)
        elif not isinstance(node, REPEATED):
            size += _static_size(list(node.iter_child_nodes()))
    return size


def _call(name: str, arg: nodes.Node, *, lineno: int) -> nodes.Call:
    return nodes.Call(nodes.Name(name, "load"), [arg], [], None, None, lineno=lineno)
