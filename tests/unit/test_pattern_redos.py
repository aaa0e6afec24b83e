"""Matching is linear in the input: no pattern operator backtracks, whatever the event holds."""

from __future__ import annotations

import random
import re

import pytest

from signoff.domain.patterns import compile_pattern


def backtracking_fullmatch(wildcard: str, text: str) -> bool:
    """The reference semantics (the regex translation the matcher used to run), for small inputs only."""
    parts, index = [], 0
    while index < len(wildcard):
        char = wildcard[index]
        if char == "\\":
            parts.append(re.escape(wildcard[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        index += 1
    return re.fullmatch("".join(parts), text, re.DOTALL) is not None


def wildcard_matches(wildcard: str, text: str) -> bool:
    return compile_pattern({"s": [{"wildcard": wildcard}]}).matches({"s": text})


class TestLinearTimeMatching:
    # With the old regex translation each of these takes hours (O(n^k) backtracking); the
    # thread timeout fails the run instead of waiting (a C regex ignores SIGALRM).
    @pytest.mark.timeout(60, method="thread")
    @pytest.mark.parametrize("wildcard", ["*a*a*a*b", "*a*a*a*a*b", "a*a*a*a*ab", "*aa*aa*ab", "*0000000*1"])
    def test_a_pathological_wildcard_on_a_long_value_finishes(self, wildcard: str) -> None:
        pattern = compile_pattern({"data": {"s": [{"wildcard": wildcard}]}})
        for length in (1_000, 10_000, 100_000):
            assert pattern.matches({"data": {"s": "a" * length}}) is False

    @pytest.mark.timeout(60, method="thread")
    def test_anything_but_wildcard_on_a_long_value_finishes(self) -> None:
        pattern = compile_pattern({"s": [{"anything-but": {"wildcard": ["*a*a*b", "*a*c"]}}]})
        assert pattern.matches({"s": "a" * 100_000}) is True

    @pytest.mark.timeout(60, method="thread")
    def test_other_operators_on_long_values_finish(self) -> None:
        long = "a" * 1_000_000
        pattern = compile_pattern({"$or": [
            {"s": [{"prefix": {"equals-ignore-case": "A" * 500}}]},
            {"s": [{"suffix": "b"}, {"equals-ignore-case": "x"}, {"cidr": "10.0.0.0/8"}]},
            {"s": [{"anything-but": ["x", "y"]}], "t": [{"exists": False}]},
        ]})
        assert pattern.matches({"s": long}) is True
        assert pattern.matches({"s": ["z" * 1_000_000, "q"], "t": 1}) is False

    @pytest.mark.parametrize("seed", range(5))
    def test_the_linear_matcher_agrees_with_the_reference_semantics(self, seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(400):
            wildcard = re.sub(r"\*+", "*", "".join(rng.choice("ab*") for _ in range(rng.randint(0, 8))))
            if wildcard.count("*") > 5:
                continue
            text = "".join(rng.choice("ab") for _ in range(rng.randint(0, 10)))
            assert wildcard_matches(wildcard, text) is backtracking_fullmatch(wildcard, text), (wildcard, text)

    @pytest.mark.parametrize(("wildcard", "text", "expected"), [
        ("*ab*ab", "abab", True),
        ("*ab*ab", "aba", False),
        ("ab*ab", "ab", False),
        ("ab*ba", "aba", False),
        ("a*", "a", True),
        ("*", "", True),
        ("", "", True),
        ("a\\*b*", "a*bcd", True),
        ("a\\*b*", "axbcd", False),
        ("*\\\\", "dir\\", True),
        ("*.png", "x.PNG", False),
        ("*line*", "two\nlines", True),
    ])
    def test_edge_cases(self, wildcard: str, text: str, expected: bool) -> None:
        assert wildcard_matches(wildcard, text) is expected

    def test_arrays_nested_deeper_than_the_recursion_limit_are_walked(self) -> None:
        value: object = "x"
        for _ in range(100_000):
            value = [value]
        assert compile_pattern({"a": ["x"]}).matches({"a": value}) is True
        assert compile_pattern({"a": {"b": [{"exists": False}]}}).matches({"a": value}) is True
