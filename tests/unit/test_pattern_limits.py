"""Patterns stay within EventBridge's complexity limits, refused with the JSON path of the fault."""

from __future__ import annotations

from typing import Any

import pytest

from signoff.domain.patterns import (
    MAX_PATTERN_CHARS,
    MAX_WILDCARD_COMPLEXITY,
    validate_pattern,
    wildcard_complexity,
)
from signoff.errors import PatternInvalid


class TestComplexityLimits:
    def test_a_pattern_above_the_size_quota_is_refused_at_the_root(self) -> None:
        pattern = {"type": [f"signoff.{i:04}" for i in range(MAX_PATTERN_CHARS // 10)]}
        with pytest.raises(PatternInvalid) as exc:
            validate_pattern(pattern)
        assert exc.value.details["path"] == "$" and str(MAX_PATTERN_CHARS) in exc.value.message

    def test_a_pattern_at_the_size_quota_is_accepted(self) -> None:
        pattern = {"s": ["x" * (MAX_PATTERN_CHARS - len('{"s":[""]}'))]}
        validate_pattern(pattern)

    def test_a_deeply_nested_pattern_is_refused_without_recursing_through_it(self) -> None:
        pattern: dict[str, Any] = {"a": ["x"]}
        for _ in range(100_000):
            pattern = {"a": pattern}
        with pytest.raises(PatternInvalid) as exc:
            validate_pattern(pattern)
        assert exc.value.details["path"] == "$"

    @pytest.mark.parametrize(("wildcard", "complexity"), [
        ("*", 1), ("abc", 1), ("*a*a*a*", 7), ("*a*a*a*b", 7), ("*abc*", 3), ("a*", 2),
    ])
    def test_complexity_counts_the_wildcard_prefixes_one_value_can_match_at_once(
            self, wildcard: str, complexity: int) -> None:
        assert wildcard_complexity(wildcard) == complexity

    def test_a_too_complex_wildcard_is_refused_naming_its_path(self) -> None:
        with pytest.raises(PatternInvalid) as exc:
            validate_pattern({"data": {"s": ["x", {"wildcard": "*a*a*a*a*a*"}]}})
        assert exc.value.details["path"] == "$.data.s[1].wildcard"
        assert "too complex" in exc.value.message

    def test_wildcards_on_one_field_add_up(self) -> None:
        validate_pattern({"s": [{"wildcard": "*a*a*a*"}]})
        with pytest.raises(PatternInvalid) as exc:
            validate_pattern({"s": [{"wildcard": "*a*a*a*"}, {"anything-but": {"wildcard": ["*b*b*"]}}]})
        assert exc.value.details["path"] == "$.s[1].anything-but.wildcard"

    def test_the_limit_is_a_constant(self) -> None:
        assert wildcard_complexity("*a*a*a*a*") <= MAX_WILDCARD_COMPLEXITY < wildcard_complexity("*a*a*a*a*a*")

    def test_a_common_wildcard_stays_valid(self) -> None:
        validate_pattern({"wildcard": [{"wildcard": "*a*a*a*b"}]})

    @pytest.mark.timeout(60, method="thread")
    def test_judging_a_long_wildcard_of_distinct_characters_finishes(self) -> None:
        # Each character is its own move of the automaton: walking every character from every
        # set of states took half a minute per pattern.
        text = "".join(chr(0x4E00 + i) for i in range(MAX_PATTERN_CHARS - 40))
        for wildcard in (f"*{text}*", f"*{text[:1000]}*{text[1000:]}*"):
            validate_pattern({"s": [{"wildcard": wildcard}]})
