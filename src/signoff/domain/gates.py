"""Metric gates: the conditions an environment puts on a version's metrics.

A policy says ``accuracy >= 0.90`` or ``f1 >= live.f1 - 0.01``. These strings come from
``signoff.toml`` and the API, so they are untrusted text: they are parsed by a small
recursive-descent parser into a tree of frozen dataclasses and evaluated by walking that tree,
never with ``eval``, so a gate can only ever compare numbers, whatever its author wrote.

Grammar::

    gate    := expr OP expr                  OP is one of >= <= > < == !=
    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := "-" unary | primary
    primary := NUMBER | NAME | "(" expr ")"

A plain NAME is a metric of the candidate version (its evidence); ``live.NAME`` is that metric
of the version currently live in the target environment.

Arithmetic runs in ``Decimal`` on the shortest repr of each float, so ``rmse <= live.rmse * 1.05``
with 0.105 and 0.1 holds the way its author expects; binary floats make such boundaries flaky.
"""

from __future__ import annotations

import dataclasses
import decimal
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NoReturn, TypeAlias

from signoff.errors import InvalidInput

__all__ = ["Gate", "GateResult", "evaluate_gates", "parse_gate"]

LIVE_PREFIX = "live."
_MAX_LENGTH = 500  # a gate is a one-liner; longer text is a mistake or an attack
_MAX_DEPTH = 32  # bounds recursion on inputs like "((((((..." or "------1"

_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<num>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)"
    r"|(?P<cmp>>=|<=|==|!=|>|<)"
    r"|(?P<sym>[-+*/()])"
)
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
# A private context: independent of whatever the caller set globally, and trapping everything
# that would otherwise produce NaN or Infinity silently.
_CTX = decimal.Context(
    prec=28, traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow]
)
_ARITH: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "+": _CTX.add,
    "-": _CTX.subtract,
    "*": _CTX.multiply,
    "/": _CTX.divide,
}


@dataclass(frozen=True)
class _Token:
    kind: str  # num | name | cmp | sym | end
    text: str
    pos: int


@dataclass(frozen=True)
class _Number:
    value: Decimal


@dataclass(frozen=True)
class _Metric:
    written: str  # as in the gate text: "f1" or "live.f1"
    name: str  # without the "live." prefix
    live: bool


@dataclass(frozen=True)
class _Binary:
    """An arithmetic operation, or (at the root of a gate) the comparison."""

    op: str
    left: _Expr
    right: _Expr


_Expr: TypeAlias = _Number | _Metric | _Binary


def _invalid(text: str, problem: str, pos: int | None = None) -> InvalidInput:
    shown = text if len(text) <= 80 else text[:77] + "..."
    where = "" if pos is None else f" at position {pos}"
    details: dict[str, Any] = {"gate": shown, "problem": problem, "position": pos}
    return InvalidInput(f"invalid gate {shown!r}: {problem}{where}", details=details)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _invalid(text, f"unexpected character {text[pos]!r}", pos)
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    def fail(self, problem: str, pos: int) -> NoReturn:
        raise _invalid(self.text, problem, pos)

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def gate(self) -> _Binary:
        left = self.expr()
        token = self.peek()
        if token.kind != "cmp":
            self.fail("expected a comparison operator (>=, <=, >, <, ==, !=)", token.pos)
        self.take()
        right = self.expr()
        end = self.peek()
        if end.kind == "cmp":
            self.fail("only one comparison is allowed", end.pos)
        if end.kind != "end":
            self.fail(f"unexpected {end.text!r}", end.pos)
        return _Binary(token.text, left, right)

    def expr(self) -> _Expr:
        node = self.term()
        while self.peek().text in ("+", "-") and self.peek().kind == "sym":
            node = _Binary(self.take().text, node, self.term())
        return node

    def term(self) -> _Expr:
        node = self.unary()
        while self.peek().text in ("*", "/") and self.peek().kind == "sym":
            node = _Binary(self.take().text, node, self.unary())
        return node

    def unary(self) -> _Expr:
        if self.peek().text == "-" and self.peek().kind == "sym":
            self.nest(self.take())
            operand = self.unary()
            self.depth -= 1
            # -x is 0 - x: exact in Decimal, and one node type less to evaluate.
            return _Binary("-", _Number(Decimal(0)), operand)
        return self.primary()

    def primary(self) -> _Expr:
        token = self.take()
        if token.kind == "num":
            return self.number(token)
        if token.kind == "name":
            return self.metric(token)
        if token.text == "(" and token.kind == "sym":
            self.nest(token)
            node = self.expr()
            closing = self.take()
            if closing.text != ")":
                self.fail("expected ')'", closing.pos)
            self.depth -= 1
            return node
        self.fail("expected a number or metric name", token.pos)

    def nest(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            self.fail("expression is nested too deeply", token.pos)

    def number(self, token: _Token) -> _Number:
        if not math.isfinite(float(token.text)):
            self.fail(f"number {token.text!r} is out of range", token.pos)
        return _Number(Decimal(token.text))

    def metric(self, token: _Token) -> _Metric:
        live = token.text.startswith(LIVE_PREFIX)
        name = token.text[len(LIVE_PREFIX) :] if live else token.text
        if not name or any(part == "" for part in name.split(".")):
            self.fail(f"invalid metric name {token.text!r}", token.pos)
        return _Metric(token.text, name, live)


def _metrics_in(node: _Expr) -> Iterator[_Metric]:
    if isinstance(node, _Metric):
        yield node
    elif isinstance(node, _Binary):
        yield from _metrics_in(node.left)
        yield from _metrics_in(node.right)


class _EvalError(Exception):
    """A gate that parsed but cannot be computed (division by zero, overflow)."""


def _usable(value: object) -> bool:
    # bool is an int subclass, but `True >= 0.9` is a bug in the reporter, not a metric.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def _to_decimal(value: float) -> Decimal:
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _calc(node: _Expr, lookup: Callable[[_Metric], Decimal]) -> Decimal:
    if isinstance(node, _Number):
        return node.value
    if isinstance(node, _Metric):
        return lookup(node)
    left, right = _calc(node.left, lookup), _calc(node.right, lookup)
    if node.op == "/" and right.is_zero():
        raise _EvalError("division by zero")
    try:
        return _ARITH[node.op](left, right)
    except decimal.DecimalException as exc:
        raise _EvalError("arithmetic overflow") from exc


def _side(node: _Expr, lookup: Callable[[_Metric], Decimal]) -> tuple[Decimal | None, str]:
    try:
        value = _calc(node, lookup)
    except _EvalError as exc:
        return None, str(exc)
    if not math.isfinite(float(value)):
        return None, "result out of range"
    return value, ""


def _show(value: Decimal) -> str:
    return f"{float(value):.12g}"


@dataclass(frozen=True)
class GateResult:
    """The outcome of one gate, kept with the approval as part of its evidence."""

    gate: str
    passed: bool
    reason: str
    left: float | None = None
    right: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Gate:
    """A parsed gate; build it with :func:`parse_gate`."""

    text: str
    comparison: _Binary = field(repr=False)

    def __str__(self) -> str:
        return self.text

    @property
    def names(self) -> frozenset[str]:
        """Every metric referenced, as written (``f1``, ``live.f1``)."""
        return frozenset(m.written for m in _metrics_in(self.comparison))

    @property
    def uses_live(self) -> bool:
        return any(m.live for m in _metrics_in(self.comparison))

    def evaluate(
        self, metrics: Mapping[str, float], live: Mapping[str, float] | None = None
    ) -> GateResult:
        """Check the gate against the candidate's metrics and the live version's metrics."""
        problem = self._unusable_inputs(metrics, live)
        if problem is not None:
            return problem

        def lookup(metric: _Metric) -> Decimal:
            source = live if metric.live and live is not None else metrics
            return _to_decimal(source[metric.name])  # present and finite: checked above

        cmp = self.comparison
        left, left_problem = _side(cmp.left, lookup)
        right, right_problem = _side(cmp.right, lookup)
        sides = (None if left is None else float(left), None if right is None else float(right))
        if left is None or right is None:
            return GateResult(self.text, False, left_problem or right_problem, *sides)
        shown = f"{_show(left)} {cmp.op} {_show(right)}"
        passed = bool(_COMPARE[cmp.op](left, right))
        return GateResult(self.text, passed, shown if passed else f"{shown} is false", *sides)

    def _unusable_inputs(
        self, metrics: Mapping[str, float], live: Mapping[str, float] | None
    ) -> GateResult | None:
        refs = list(dict.fromkeys(_metrics_in(self.comparison)))  # unique, in order written
        for ref in (r for r in refs if not r.live):
            if ref.name not in metrics:
                return GateResult(self.text, False, f"metric {ref.name!r} not reported")
            if not _usable(metrics[ref.name]):
                return GateResult(self.text, False, f"metric {ref.name!r} is not a finite number")
        live_refs = [r for r in refs if r.live]
        if live_refs and live is None:
            return GateResult(self.text, True, "no live version to compare with")
        for ref in live_refs:
            # A live gate guards against regressions. If the live version never reported the
            # metric there is no baseline to regress from; failing would make it impossible to
            # ever introduce a new metric, so the gate passes and says why.
            if live is not None and not _usable(live.get(ref.name)):
                why = "is not a finite number" if ref.name in live else "was not reported"
                reason = f"live {ref.name!r} {why}: nothing to regress against"
                return GateResult(self.text, True, reason)
        return None


def parse_gate(text: str) -> Gate:
    """Parse one gate such as ``f1 >= live.f1 - 0.01``; raises InvalidInput."""
    if not isinstance(text, str):
        raise InvalidInput("invalid gate: expected a string", details={"gate": repr(text)})
    stripped = text.strip()
    if len(stripped) > _MAX_LENGTH:
        raise _invalid(stripped, f"longer than {_MAX_LENGTH} characters")
    return Gate(stripped, _Parser(stripped).gate())


def evaluate_gates(
    gates: Sequence[Gate], metrics: Mapping[str, float], live: Mapping[str, float] | None
) -> list[GateResult]:
    """Evaluate every gate (not just up to the first failure: approvers see them all)."""
    return [gate.evaluate(metrics, live) for gate in gates]
