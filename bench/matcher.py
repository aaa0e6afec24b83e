"""The event-pattern matcher's worst case per input length (`python bench/matcher.py`, or the
`matcher` suite of bench/run.py): pathological patterns against the values that hurt them most.

`linear` is the matcher signoff runs. `backtracking` is the regex translation it used before
(each `*` became `.*`), timed in a child process that is killed after TIMEOUT seconds, since a
C regex cannot be interrupted: its figure is a lower bound once it times out, and longer inputs
are not tried after that.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

from quick import pick
from signoff.domain.patterns import compile_pattern

LENGTHS = (1_000, 10_000, 100_000, 1_000_000)
OLD_LENGTHS = (100, 300, 1_000, 3_000, 10_000, 100_000)
TIMEOUT = pick(5.0, 1.0)  # quick: the backtracking matcher is killed sooner
# (name, pattern operator for field "s", the character repeated and the ending of its worst value):
# a value that passes the cheap first/last checks, so the whole of it is scanned.
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("wildcard *a*a*a*b (issue)", {"wildcard": "*a*a*a*b"}, "a", ""),
    ("wildcard *a*a*a*a*b", {"wildcard": "*a*a*a*a*b"}, "a", ""),
    ("wildcard a*a*a*a*ab", {"wildcard": "a*a*a*a*ab"}, "a", ""),
    ("wildcard *ab*ab*b", {"wildcard": "*ab*ab*b"}, "a", "b"),
    ("wildcard *00000001*1", {"wildcard": "*00000001*1"}, "0", "1"),
    ("anything-but wildcards", {"anything-but": {"wildcard": ["*a*a*b", "*ab*c"]}}, "a", "c"),
    ("prefix ignore-case", {"prefix": {"equals-ignore-case": "A" * 100 + "b"}}, "a", ""),
    ("suffix", {"suffix": "a" * 100 + "b"}, "a", ""),
    ("cidr", {"cidr": "10.0.0.0/8"}, "1", ""),
]
OLD_CASES = [(name, op["wildcard"], char, end) for name, op, char, end in CASES if "wildcard" in op]

_OLD = r"""
import re, sys, time
wildcard, char, end, length = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
regex = re.compile("".join(".*" if c == "*" else re.escape(c) for c in wildcard), re.DOTALL)
value = char * length + end
started = time.perf_counter()
regex.fullmatch(value)
print(time.perf_counter() - started)
"""


def _linear_seconds(operator: dict[str, Any], value: str, repeats: int = 5) -> float:
    pattern = compile_pattern({"s": [operator]})
    event = {"s": value}
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        pattern.matches(event)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _backtracking_seconds(wildcard: str, char: str, end: str, length: int) -> float | None:
    """Seconds one old-style fullmatch took, or None when it outlived TIMEOUT (and was killed)."""
    try:
        done = subprocess.run([sys.executable, "-c", _OLD, wildcard, char, end, str(length)], capture_output=True,
                              text=True, timeout=TIMEOUT, check=True)
    except subprocess.TimeoutExpired:
        return None
    return float(done.stdout)


def _worst(per_case: dict[str, dict[int, float | None]], length: int) -> dict[str, Any]:
    figures = {name: times[length] for name, times in per_case.items() if length in times}
    if not figures:
        return {}
    timed_out = [name for name, t in figures.items() if t is None]
    if timed_out:
        return {"worst_ms": f"> {TIMEOUT * 1000:.0f} (killed)", "case": timed_out[0]}
    name = max(figures, key=lambda n: figures[n] or 0.0)
    return {"worst_ms": round((figures[name] or 0.0) * 1000, 3), "case": name}


def run_matcher_bench() -> dict[str, Any]:
    linear: dict[str, dict[int, float | None]] = {}
    for name, operator, char, end in CASES:
        linear[name] = {length: _linear_seconds(operator, char * length + end) for length in LENGTHS}
    old: dict[str, dict[int, float | None]] = {}
    for name, wildcard, char, end in OLD_CASES:
        old[name] = {}
        for length in OLD_LENGTHS:
            old[name][length] = _backtracking_seconds(wildcard, char, end, length)
            if old[name][length] is None:
                # Longer inputs only take longer: counted as killed too, without waiting for it.
                old[name].update({longer: None for longer in OLD_LENGTHS if longer > length})
                break
    return {
        "linear_worst_per_length": {str(n): _worst(linear, n) for n in LENGTHS},
        "backtracking_worst_per_length": {str(n): _worst(old, n) for n in OLD_LENGTHS},
        "linear_ms": {name: {str(n): round((t or 0.0) * 1000, 3) for n, t in times.items()}
                      for name, times in linear.items()},
        "backtracking_ms": {name: {str(n): (round(t * 1000, 1) if t is not None else f"> {TIMEOUT * 1000:.0f}")
                                   for n, t in times.items()} for name, times in old.items()},
        "timeout_s": TIMEOUT,
    }


if __name__ == "__main__":
    print(json.dumps(run_matcher_bench(), indent=2))
