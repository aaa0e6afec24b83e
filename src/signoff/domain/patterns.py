"""EventBridge event patterns: validate them, compile them once, match them against events.

Rules choose events with the content-filtering language of AWS EventBridge (the one
aws/event-ruler implements), so users can bring patterns they already have and read AWS's
documentation for what they mean. The worker matches every event against every rule, so a
pattern is validated and turned into plain closures once (:func:`compile_pattern`).

Semantics that surprise people, all as EventBridge does them:

- A leaf is always an array of alternatives; the fields of an object are ANDed; ``$or``
  takes an array of sub-patterns and ORs them.
- An event array matches when any element does. Fields under one array element are matched
  together, never combined across elements ("array consistency").
- Values are typed: ``3`` matches ``3.0`` but not ``"3"``; ``true`` does not match ``"true"``.
- ``null`` is a value, not absence: it satisfies ``exists: true`` and fails ``exists: false``.
- ``exists`` looks at leaves only: a key holding an object or an empty array does not exist.
  Under an array of objects, ``exists: false`` needs the field to be absent from every element.
- ``anything-but`` matches every present value that is not excluded, whatever its type.

Events come from anyone who can cause one, so no operator may take more than linear time in
the event (a wildcard is never a backtracking regex), and patterns are held to EventBridge's
limits: its size quota and its wildcard complexity (see the constants below).
"""

from __future__ import annotations

import ipaddress
import json
import math
import operator
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, NoReturn, TypeGuard

from signoff.errors import PatternInvalid

__all__ = [
    "MAX_PATTERN_CHARS",
    "MAX_WILDCARD_COMPLEXITY",
    "CompiledPattern",
    "compile_pattern",
    "matches",
    "validate_pattern",
    "wildcard_complexity",
]

Predicate = Callable[[object], bool]

_OR: Final = "$or"
_ANYTHING_BUT_OPERATORS: Final = ("prefix", "suffix", "wildcard", "equals-ignore-case")
_OPERATORS: Final = frozenset(
    {*_ANYTHING_BUT_OPERATORS, "anything-but", "numeric", "exists", "cidr"}
)
_LOWER: Final = {">": operator.gt, ">=": operator.ge}
_UPPER: Final = {"<": operator.lt, "<=": operator.le}
_SIMPLE_KEY: Final = re.compile(r"[\w$-]+")
_MISSING: Final = object()

# EventBridge's published quota "Event pattern size": 2,048 characters by default.
MAX_PATTERN_CHARS: Final = 2048
# EventBridge refuses wildcards that are "too complex": aws/event-ruler's MachineComplexityEvaluator
# counts the wildcard prefixes one value can match at once. AWS does not publish its threshold;
# 10 agrees with what it is observed to refuse (six stars separated by one repeated character,
# "*a*a*a*a*a*", is refused; five are accepted). Matching is linear either way: this only keeps
# patterns portable to EventBridge and bounds the work per value.
MAX_WILDCARD_COMPLEXITY: Final = 10
_MAX_ADDRESS_CHARS: Final = 64
_COMPLEXITY_WALK: Final = 20_000  # sets of states the complexity walk may visit before giving up


def validate_pattern(pattern: object) -> None:
    """Raise PatternInvalid, naming the JSON path of the fault, unless EventBridge would accept it."""
    _compile_root(pattern)


def compile_pattern(pattern: dict[str, Any]) -> CompiledPattern:
    """Validate ``pattern`` and prepare it for fast matching; raises PatternInvalid."""
    return CompiledPattern(_compile_root(pattern))


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """True when ``event`` (a whole JSON object) matches ``pattern``; raises PatternInvalid."""
    return compile_pattern(pattern).matches(event)


class CompiledPattern:
    """A validated pattern, ready to be matched against many events."""

    __slots__ = ("_root",)

    def __init__(self, root: _Object) -> None:
        self._root = root

    def matches(self, event: dict[str, Any]) -> bool:
        root = event if isinstance(event, dict) else {}
        return self._root.matches(root, root)


# --- matching ---------------------------------------------------------------------------


def _is_number(value: object) -> TypeGuard[int | float | Decimal]:
    # bool is an int to Python, but true is not 1 to EventBridge.
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _leaves(value: object) -> Iterator[object]:
    """The scalar values at one spot of the event: arrays are flattened, objects are not leaves.
    Walked with a stack, not recursion, so arrays nested thousands deep cannot overflow it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif item is not _MISSING and not isinstance(item, dict):
            yield item


def _objects(value: object) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            out.append(item)
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return out


def _has_leaf(node: object, path: tuple[str, ...]) -> bool:
    if not path:
        return any(True for _ in _leaves(node))
    key, rest = path[0], path[1:]
    return any(key in obj and _has_leaf(obj[key], rest) for obj in _objects(node))


@dataclass(frozen=True, slots=True)
class _Leaf:
    path: tuple[str, ...]
    strings: frozenset[str]
    numbers: frozenset[Any]
    booleans: frozenset[bool]
    null: bool
    predicates: tuple[Predicate, ...]
    absent_ok: bool

    def accepts(self, value: object) -> bool:
        if value is None:
            hit = self.null
        elif isinstance(value, bool):
            hit = value in self.booleans
        elif isinstance(value, str):
            hit = value in self.strings
        elif _is_number(value):
            hit = value in self.numbers  # 3 and 3.0 hash and compare equal
        else:
            hit = False
        return hit or any(test(value) for test in self.predicates)

    def matches(self, value: object, root: dict[str, Any]) -> bool:
        if value is not _MISSING and not isinstance(value, (list, dict)):
            return self.accepts(value)  # the common case, without walking anything
        found = False
        for leaf in _leaves(value):
            found = True
            if self.accepts(leaf):
                return True
        # Absence is judged on the whole event, not on one array element, as event-ruler does:
        # a field present in any element of an array of objects exists.
        return not found and self.absent_ok and not _has_leaf(root, self.path)


@dataclass(frozen=True, slots=True)
class _Object:
    fields: tuple[tuple[str, _Leaf | _Object], ...]
    branches: tuple[_Object, ...]  # of its "$or", if any (an object has at most one key "$or")

    def matches(self, obj: dict[str, Any], root: dict[str, Any]) -> bool:
        for key, node in self.fields:
            value = obj.get(key, _MISSING)
            if isinstance(node, _Leaf):
                if not node.matches(value, root):
                    return False
            # Each array element is tried on its own: that is what keeps matches consistent.
            elif not any(node.matches(child, root) for child in _objects(value) or [{}]):
                return False
        return not self.branches or any(branch.matches(obj, root) for branch in self.branches)


# --- validation and compilation ---------------------------------------------------------


def _fail(path: str, message: str) -> NoReturn:
    raise PatternInvalid(f"{path}: {message}", details={"path": path})


def _json_size(value: object, limit: int) -> int:
    """Length of `value` as compact JSON, counted without recursion and given up once past
    `limit` (so neither a huge nor a deeply nested pattern costs more than the limit)."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, dict):
            total += 2 + max(len(item) - 1, 0)  # braces and commas
            for key, child in item.items():
                total += len(json.dumps(str(key), ensure_ascii=False)) + 1
                stack.append(child)
                if total > limit:
                    break
        elif isinstance(item, list):
            total += 2 + max(len(item) - 1, 0)
            stack.extend(item[: limit + 1])
        elif isinstance(item, str):
            total += len(json.dumps(item[: limit + 1], ensure_ascii=False))
        else:
            total += len(json.dumps(item, default=str))
    return total


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if _SIMPLE_KEY.fullmatch(key) else f"{path}[{key!r}]"


def _compile_root(pattern: object) -> _Object:
    if not isinstance(pattern, dict):
        _fail("$", "an event pattern must be a JSON object")
    size = _json_size(pattern, MAX_PATTERN_CHARS)
    if size > MAX_PATTERN_CHARS:
        _fail("$", f"the pattern is larger than EventBridge's {MAX_PATTERN_CHARS} characters "
                   "(measured as compact JSON)")
    return _compile_object(pattern, "$", (), in_or=False)


def _compile_object(
    pattern: dict[Any, Any], path: str, keys: tuple[str, ...], *, in_or: bool
) -> _Object:
    fields: list[tuple[str, _Leaf | _Object]] = []
    branches: tuple[_Object, ...] = ()
    for key, value in pattern.items():
        if not isinstance(key, str):
            _fail(path, f"field names must be strings, not {key!r}")
        here = _key_path(path, key)
        if key == _OR:
            branches = _compile_or(value, here, keys)
        elif in_or and key in _OPERATORS:
            # Inside $or this is almost surely a misplaced operator, so AWS refuses it.
            _fail(here, f"{key!r} is a reserved word and cannot be a field name inside $or")
        elif isinstance(value, dict):
            if not value:
                _fail(here, "empty objects are not allowed")
            fields.append((key, _compile_object(value, here, (*keys, key), in_or=in_or)))
        elif isinstance(value, list):
            fields.append((key, _compile_leaf(value, here, (*keys, key))))
        else:
            _fail(here, "must be an object or an array of values")
    return _Object(tuple(fields), branches)


def _compile_or(value: object, path: str, keys: tuple[str, ...]) -> tuple[_Object, ...]:
    if not isinstance(value, list) or len(value) < 2:
        _fail(path, "$or must be an array of at least 2 objects")
    branches = []
    for index, branch in enumerate(value):
        here = f"{path}[{index}]"
        if not isinstance(branch, dict) or not branch:
            _fail(here, "each $or alternative must be a non-empty object")
        branches.append(_compile_object(branch, here, keys, in_or=True))
    return tuple(branches)


def _compile_leaf(values: list[Any], path: str, keys: tuple[str, ...]) -> _Leaf:
    if not values:
        _fail(path, "empty arrays are not allowed")
    strings: set[str] = set()
    numbers: set[Any] = set()
    booleans: set[bool] = set()
    predicates: list[Predicate] = []
    null = absent_ok = False
    complexity = 0  # summed over the field's wildcards, as they share one automaton in event-ruler
    for index, value in enumerate(values):
        here = f"{path}[{index}]"
        if value is None:
            null = True
        elif isinstance(value, bool):
            booleans.add(value)
        elif isinstance(value, str):
            strings.add(value)
        elif _is_number(value):
            numbers.add(_number(value, here))
        elif isinstance(value, dict):
            op, operand = _single_operator(value, here, _OPERATORS)
            if op == "exists":
                if not isinstance(operand, bool):
                    _fail(_key_path(here, op), "exists must be true or false")
                if operand:
                    predicates.append(_any_value)
                else:
                    absent_ok = True
            else:
                where = _key_path(here, op)
                predicates.append(_BUILDERS[op](operand, where))
                for text, at in _wildcards_of(op, operand, where):
                    complexity += wildcard_complexity(text)
                    if complexity > MAX_WILDCARD_COMPLEXITY:
                        _fail(at, "Rule is too complex - try using fewer wildcard characters or fewer repeating "
                                  f"character sequences after a wildcard character (at most {MAX_WILDCARD_COMPLEXITY}"
                                  " wildcard prefixes may match one value at once, per field)")
        else:
            _fail(here, "a value must be a string, number, true, false, null or an operator object")
    return _Leaf(
        keys,
        frozenset(strings),
        frozenset(numbers),
        frozenset(booleans),
        null,
        tuple(predicates),
        absent_ok,
    )


def _single_operator(obj: dict[Any, Any], path: str, allowed: Collection[str]) -> tuple[str, Any]:
    if len(obj) != 1:
        _fail(path, "an operator object must have exactly one key")
    ((op, operand),) = obj.items()
    if op not in allowed:
        _fail(path, f"unknown operator {op!r}")
    return op, operand


def _number(value: object, path: str) -> Any:
    if not _is_number(value) or not math.isfinite(value):
        _fail(path, f"must be a finite number, not {value!r}")
    return value


def _string(value: object, path: str) -> str:
    if not isinstance(value, str):
        _fail(path, f"must be a string, not {value!r}")
    return value


def _any_value(value: object) -> bool:
    return True


def _text_or_ignore_case(operand: object, path: str) -> tuple[str, bool]:
    """``"abc"`` or ``{"equals-ignore-case": "abc"}``, as prefix and suffix accept."""
    if isinstance(operand, dict):
        _, text = _single_operator(operand, path, ("equals-ignore-case",))
        return _string(text, _key_path(path, "equals-ignore-case")), True
    return _string(operand, path), False


def _affix(test: Callable[[str, str], bool]) -> Callable[[object, str], Predicate]:
    """A builder for prefix (``str.startswith``) or suffix (``str.endswith``) matching."""

    def build(operand: object, path: str) -> Predicate:
        text, fold = _text_or_ignore_case(operand, path)
        if fold:
            folded = text.lower()
            return lambda v: isinstance(v, str) and test(v.lower(), folded)
        return lambda v: isinstance(v, str) and test(v, text)

    return build


def _equals_ignore_case(operand: object, path: str) -> Predicate:
    folded = _string(operand, path).lower()
    return lambda v: isinstance(v, str) and v.lower() == folded


def _wildcard_tokens(text: str, path: str) -> list[str | None]:
    """The wildcard as a list of literal characters, with None for each unescaped ``*``."""
    tokens: list[str | None] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            escaped = text[index + 1 : index + 2]
            if escaped not in ("*", "\\"):
                _fail(path, "a backslash may only escape '*' or '\\'")
            tokens.append(escaped)
            index += 2
            continue
        if char == "*" and tokens and tokens[-1] is None:
            _fail(path, "consecutive wildcard characters are not allowed")
        tokens.append(None if char == "*" else char)
        index += 1
    return tokens


def _complexity(tokens: list[str | None]) -> int:
    """How many prefixes of the wildcard one value can match at the same time (what aws/event-ruler's
    MachineComplexityEvaluator bounds): the largest set of live states of the wildcard's automaton.

    State k means "the first k tokens match what was read"; a state right after a ``*`` keeps
    absorbing characters. From a set of states only the characters those states expect (plus
    one stand-in for every other) move it differently, so a walk over those finds every reachable
    set in time bounded by the limits below; the walk gives up (answering "too complex") as soon as a set outgrows the limit or the
    number of sets it has seen grows past _COMPLEXITY_WALK.
    """
    size = len(tokens)

    def closure(states: set[int]) -> frozenset[int]:
        out = set(states)
        for k in sorted(states):
            while k < size and tokens[k] is None:
                k += 1
                out.add(k)
        return frozenset(out)

    def step(states: frozenset[int], char: str) -> frozenset[int]:
        nxt = set()
        for k in states:
            if k and tokens[k - 1] is None:
                nxt.add(k)
            if k < size and tokens[k] == char:
                nxt.add(k + 1)
        return closure(nxt)

    used = {t for t in tokens if t is not None}
    other = next(c for c in map(chr, range(0x110000)) if c not in used)  # stands for every unused one
    start = closure({0})
    seen, frontier, worst = {start}, [start], 0
    while frontier:
        states = frontier.pop()
        # Only the characters some live state expects can move it differently from `other`.
        for char in {t for k in states if k < size and (t := tokens[k]) is not None} | {other}:
            nxt = step(states, char)
            if not nxt or nxt in seen:
                continue
            worst = max(worst, len(nxt - {0}))
            if worst > MAX_WILDCARD_COMPLEXITY or len(seen) >= _COMPLEXITY_WALK:
                return max(worst, MAX_WILDCARD_COMPLEXITY + 1)
            seen.add(nxt)
            frontier.append(nxt)
    return worst


def wildcard_complexity(text: str) -> int:
    """The complexity of one wildcard value (see MAX_WILDCARD_COMPLEXITY); raises PatternInvalid."""
    return _complexity(_wildcard_tokens(text, "$"))


def _wildcard_matcher(tokens: list[str | None]) -> Callable[[str], bool]:
    """A matcher in time linear in the value: no backtracking regex.

    Split at the stars into literal segments: the first must start the value, the last must end
    it, and each one between is taken at its leftmost place after the previous one. Leftmost is
    always safe, because a ``*`` absorbs whatever an earlier choice would have left, so the scan
    moves forward only and reads each character a bounded number of times (the pattern is short).
    """
    segments = ["".join(t for t in group) for group in _split(tokens)]
    if len(segments) == 1:
        exact = segments[0]
        return lambda value: value == exact
    head, middle, tail = segments[0], segments[1:-1], segments[-1]
    least = len(head) + len(tail) + sum(map(len, middle))

    def match(value: str) -> bool:
        if len(value) < least or not value.startswith(head) or not value.endswith(tail):
            return False
        position, end = len(head), len(value) - len(tail)
        for segment in middle:
            found = value.find(segment, position, end)
            if found < 0:
                return False
            position = found + len(segment)
        return True

    return match


def _split(tokens: list[str | None]) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    for token in tokens:
        if token is None:
            groups.append([])
        else:
            groups[-1].append(token)
    return groups


def _wildcard(operand: object, path: str) -> Predicate:
    test = _wildcard_matcher(_wildcard_tokens(_string(operand, path), path))
    return lambda v: isinstance(v, str) and test(v)


def _wildcards_of(op: str, operand: object, path: str) -> list[tuple[str, str]]:
    """The wildcard texts an operator holds, with their JSON paths: what counts to complexity."""
    if op == "wildcard" and isinstance(operand, str):
        return [(operand, path)]
    if op == "anything-but" and isinstance(operand, dict) and isinstance(operand.get("wildcard"), (str, list)):
        here = _key_path(path, "wildcard")
        inner = operand["wildcard"]
        return [(text, here) for text in (inner if isinstance(inner, list) else [inner]) if isinstance(text, str)]
    return []


def _cidr(operand: object, path: str) -> Predicate:
    text = _string(operand, path)
    try:
        if "/" not in text:
            raise ValueError(text)
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        _fail(path, f"{text!r} is not an IPv4 or IPv6 CIDR block like 10.0.0.0/24")

    def inside(value: object) -> bool:
        # No address is longer (IPv6 with a zone); parsing megabytes would only find that out later.
        if not isinstance(value, str) or len(value) > _MAX_ADDRESS_CHARS:
            return False
        try:
            return ipaddress.ip_address(value) in network
        except ValueError:
            return False

    return inside


def _numeric(operand: object, path: str) -> Predicate:
    if not isinstance(operand, list) or not operand:
        _fail(path, 'must be a non-empty array such as [">", 0, "<=", 5]')
    first = operand[0]
    if not isinstance(first, str) or first not in {"=", *_LOWER, *_UPPER}:
        _fail(f"{path}[0]", f"unknown numeric operator {first!r}")
    if len(operand) < 2:
        _fail(path, f"{first!r} must be followed by a number")
    bound = _number(operand[1], f"{path}[1]")
    tests: list[tuple[Callable[[Any, Any], bool], Any]] = [
        (operator.eq if first == "=" else {**_LOWER, **_UPPER}[first], bound)
    ]
    if len(operand) > 2:
        upper = operand[2]
        # Only a lower bound may be followed by anything, and only by an upper bound.
        if first not in _LOWER or not isinstance(upper, str) or upper not in _UPPER:
            _fail(f"{path}[2]", "only a lower bound ('>', '>=') may be followed, by '<' or '<='")
        if len(operand) != 4:
            _fail(path, "a range has exactly four elements, e.g. ['>', 0, '<=', 5]")
        top = _number(operand[3], f"{path}[3]")
        if not bound < top:
            _fail(f"{path}[3]", "the upper bound must be greater than the lower bound")
        tests.append((_UPPER[upper], top))
    return lambda v: _is_number(v) and all(test(v, b) for test, b in tests)


def _anything_but(operand: object, path: str) -> Predicate:
    if isinstance(operand, dict):
        return _anything_but_operator(operand, path)
    listed = isinstance(operand, list)
    items = operand if isinstance(operand, list) else [operand]
    if not items:
        _fail(path, "empty arrays are not allowed")
    for index, item in enumerate(items):
        where = f"{path}[{index}]" if listed else path
        if not isinstance(item, str):
            if not _is_number(item):
                _fail(where, "anything-but takes strings or numbers, not null, booleans or arrays")
            _number(item, where)
    strings = frozenset(item for item in items if isinstance(item, str))
    numbers = frozenset(item for item in items if _is_number(item))
    if strings and numbers:
        _fail(path, "anything-but values must be all strings or all numbers")

    # Only a value of the excluded kind can be excluded: "3" passes anything-but 3.
    def allowed(value: object) -> bool:
        if isinstance(value, str):
            return value not in strings
        return not _is_number(value) or value not in numbers

    return allowed


def _anything_but_operator(operand: dict[Any, Any], path: str) -> Predicate:
    op, inner = _single_operator(operand, path, _ANYTHING_BUT_OPERATORS)
    here = _key_path(path, op)
    texts = [
        _string(text, here) for text in (inner if isinstance(inner, list) and inner else [inner])
    ]
    if op in ("prefix", "suffix") and "" in texts:
        _fail(here, f"an empty {op} is not allowed in anything-but")
    excluded = [_BUILDERS[op](text, here) for text in texts]
    # Non-strings cannot start, end or look like anything, so they are never excluded.
    return lambda v: not any(test(v) for test in excluded)


_BUILDERS: Final[dict[str, Callable[[object, str], Predicate]]] = {
    "prefix": _affix(str.startswith),
    "suffix": _affix(str.endswith),
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "cidr": _cidr,
    "numeric": _numeric,
    "anything-but": _anything_but,
}
