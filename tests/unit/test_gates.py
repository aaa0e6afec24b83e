"""Metric gates: parsing untrusted gate text safely, and evaluating it against evidence."""

from __future__ import annotations

import pytest

from signoff.domain.gates import Gate, GateResult, evaluate_gates, parse_gate
from signoff.errors import InvalidInput


def refused(text: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_gate(text)
    return caught.value


class TestGateParsing:
    @pytest.mark.parametrize(
        "text",
        [
            "accuracy >= 0.90",
            "f1 >= live.f1 - 0.01",
            "latency_p99_ms < 250",
            "auc > live.auc",
            "rmse <= live.rmse * 1.05",
            "(precision + recall) / 2 != 0",
            "-loss <= -1e-3",
            "eval.accuracy == .5",
        ],
    )
    def test_accepts_the_documented_forms(self, text: str) -> None:
        assert parse_gate(text).text == text

    def test_keeps_the_text_without_surrounding_whitespace(self) -> None:
        assert str(parse_gate("  accuracy >= 0.9\n")) == "accuracy >= 0.9"

    def test_names_every_metric_as_written(self) -> None:
        gate = parse_gate("f1 >= live.f1 - 0.01 * (auc + f1)")
        assert gate.names == {"f1", "live.f1", "auc"}

    def test_knows_whether_it_compares_with_the_live_version(self) -> None:
        assert parse_gate("auc > live.auc").uses_live is True
        assert parse_gate("auc > 0.7").uses_live is False

    def test_equal_texts_give_equal_gates(self) -> None:
        assert parse_gate("a >= 1") == parse_gate("a >= 1")
        assert parse_gate("a >= 1") != parse_gate("a >= 2")

    def test_reports_the_position_of_a_missing_operand(self) -> None:
        error = refused("acc >=")
        assert error.message == (
            "invalid gate 'acc >=': expected a number or metric name at position 6"
        )
        assert error.code == "invalid_input"
        assert error.details["position"] == 6

    def test_refuses_an_expression_without_comparison(self) -> None:
        assert refused("accuracy").message == (
            "invalid gate 'accuracy': expected a comparison operator "
            "(>=, <=, >, <, ==, !=) at position 8"
        )

    def test_refuses_chained_comparisons(self) -> None:
        assert "only one comparison is allowed at position 10" in refused("0.8 < acc < 0.9").message

    def test_refuses_python_code(self) -> None:
        error = refused("__import__('os').system('rm -rf /') > 0")
        assert error.message.startswith("invalid gate ")
        assert 'unexpected character "\'" at position 11' in error.message

    @pytest.mark.parametrize(
        "text",
        [
            "__import__ > 0",  # parses: it is just a metric name, never looked up in Python
            "accuracy.__class__ >= 0",
        ],
    )
    def test_dunder_names_are_only_metric_names(self, text: str) -> None:
        assert parse_gate(text).evaluate({}, None).passed is False

    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            ("accuracy >= 0.9 and f1 > 0.8", "unexpected 'and' at position 16"),
            ("accuracy >= 0.9; f1 > 0", "unexpected character ';' at position 15"),
            ("f(1) > 0", "expected a comparison operator (>=, <=, >, <, ==, !=) at position 1"),
            ("a[0] > 0", "unexpected character '[' at position 1"),
            ("a ** 2 > 0", "expected a number or metric name at position 3"),
            ("(a > 0", "expected ')' at position 3"),
            ("a > 0)", "unexpected ')' at position 5"),
            ("a >= 0.9.1", "unexpected '.1' at position 8"),
            ("live. > 0", "invalid metric name 'live.' at position 0"),
            ("a..b > 0", "invalid metric name 'a..b' at position 0"),
            ("a > 1e999", "number '1e999' is out of range at position 4"),
            ("", "expected a number or metric name at position 0"),
            ("a >= 'x'", 'unexpected character "\'" at position 5'),
            ("a >= ٣", "unexpected character '٣' at position 5"),
        ],
    )
    def test_names_the_problem_and_where_it_is(self, text: str, problem: str) -> None:
        assert refused(text).message == f"invalid gate {text!r}: {problem}"

    def test_refuses_deep_nesting_instead_of_overflowing_the_stack(self) -> None:
        assert "nested too deeply" in refused("(" * 200 + "a" + ")" * 200 + " > 0").message
        assert "nested too deeply" in refused("-" * 200 + "a > 0").message

    def test_a_long_flat_expression_within_the_limit_is_fine(self) -> None:
        gate = parse_gate("a + " * 120 + "a > 0")
        assert gate.evaluate({"a": 1}, None).reason == "121 > 0"

    def test_refuses_very_long_text_and_shortens_it_in_the_message(self) -> None:
        error = refused("a + " * 200 + "a > 0")
        assert "longer than 500 characters" in error.message
        assert len(error.message) < 200

    def test_refuses_something_that_is_not_text(self) -> None:
        with pytest.raises(InvalidInput, match="expected a string"):
            parse_gate(0.9)  # type: ignore[arg-type]


class TestGateEvaluation:
    def test_passes_when_the_candidate_meets_a_threshold(self) -> None:
        result = parse_gate("accuracy >= 0.90").evaluate({"accuracy": 0.93}, None)
        assert result == GateResult("accuracy >= 0.90", True, "0.93 >= 0.9", 0.93, 0.9)

    def test_fails_and_shows_both_sides_when_below(self) -> None:
        result = parse_gate("accuracy >= 0.90").evaluate({"accuracy": 0.85}, None)
        assert result.passed is False
        assert result.reason == "0.85 >= 0.9 is false"
        assert (result.left, result.right) == (0.85, 0.9)

    @pytest.mark.parametrize(
        ("op", "passed"),
        [(">=", True), ("<=", False), (">", True), ("<", False), ("==", False), ("!=", True)],
    )
    def test_every_comparison_operator(self, op: str, passed: bool) -> None:
        assert parse_gate(f"a {op} 1").evaluate({"a": 2}, None).passed is passed

    def test_arithmetic_follows_the_usual_precedence(self) -> None:
        # 2 + 3 * 2 - (2 - 3) / 2 = 8.5; left-to-right without precedence would give 4.5.
        result = parse_gate("a + b * 2 - (a - b) / 2 == 8.5").evaluate({"a": 2, "b": 3}, None)
        assert (result.passed, result.left, result.reason) == (True, 8.5, "8.5 == 8.5")
        assert parse_gate("8 - 2 - 1 == 5").evaluate({}, None).passed is True
        assert parse_gate("8 / 2 / 2 == 2").evaluate({}, None).passed is True

    def test_unary_minus(self) -> None:
        result = parse_gate("-loss > -0.5").evaluate({"loss": 0.25}, None)
        assert (result.passed, result.left, result.right) == (True, -0.25, -0.5)

    def test_compares_with_the_live_version(self) -> None:
        gate = parse_gate("f1 >= live.f1 - 0.01")
        assert gate.evaluate({"f1": 0.895}, {"f1": 0.90}).passed is True
        failed = gate.evaluate({"f1": 0.88}, {"f1": 0.90})
        assert (failed.passed, failed.reason) == (False, "0.88 >= 0.89 is false")

    def test_decimal_boundaries_hold_as_written(self) -> None:
        # In binary floats 0.1 * 1.05 is 0.10500000000000001 and 0.90 - 0.01 is not 0.89.
        assert (
            parse_gate("rmse <= live.rmse * 1.05").evaluate({"rmse": 0.105}, {"rmse": 0.1}).passed
            is True
        )
        assert (
            parse_gate("f1 >= live.f1 - 0.01").evaluate({"f1": 0.89}, {"f1": 0.90}).passed is True
        )

    def test_a_metric_the_candidate_did_not_report_fails(self) -> None:
        result = parse_gate("f1 >= live.f1 - 0.01").evaluate({"accuracy": 0.9}, {"f1": 0.9})
        assert result == GateResult("f1 >= live.f1 - 0.01", False, "metric 'f1' not reported")

    def test_a_missing_candidate_metric_fails_even_without_a_live_version(self) -> None:
        result = parse_gate("f1 >= live.f1").evaluate({}, None)
        assert (result.passed, result.reason) == (False, "metric 'f1' not reported")

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "0.95", None])
    def test_a_candidate_metric_that_is_not_a_finite_number_fails(self, value: object) -> None:
        result = parse_gate("accuracy >= 0.9").evaluate({"accuracy": value}, None)  # type: ignore[dict-item]
        assert (result.passed, result.reason) == (False, "metric 'accuracy' is not a finite number")

    def test_passes_when_there_is_no_live_version(self) -> None:
        result = parse_gate("auc > live.auc").evaluate({"auc": 0.7}, None)
        assert (result.passed, result.reason) == (True, "no live version to compare with")
        assert (result.left, result.right) == (None, None)

    def test_passes_when_the_live_version_never_reported_the_metric(self) -> None:
        result = parse_gate("auc > live.auc").evaluate({"auc": 0.7}, {"f1": 0.9})
        assert result.passed is True
        assert result.reason == "live 'auc' was not reported: nothing to regress against"

    def test_passes_when_the_live_metric_is_not_a_number(self) -> None:
        result = parse_gate("auc > live.auc").evaluate({"auc": 0.7}, {"auc": float("nan")})
        assert result.passed is True
        assert result.reason == "live 'auc' is not a finite number: nothing to regress against"

    def test_division_by_zero_fails_with_a_reason(self) -> None:
        result = parse_gate("errors / requests < 0.01").evaluate({"errors": 0, "requests": 0}, None)
        assert (result.passed, result.reason) == (False, "division by zero")
        assert (result.left, result.right) == (None, 0.01)

    def test_overflow_fails_instead_of_comparing_infinity(self) -> None:
        result = parse_gate("a * a * a > 0").evaluate({"a": 1e300}, None)
        assert (result.passed, result.reason) == (False, "result out of range")

    def test_integers_and_large_values_are_exact(self) -> None:
        result = parse_gate("latency_p99_ms < 250").evaluate({"latency_p99_ms": 249}, None)
        assert (result.passed, result.reason) == (True, "249 < 250")

    def test_result_serializes_to_a_plain_dict(self) -> None:
        result = parse_gate("accuracy >= 0.9").evaluate({"accuracy": 0.95}, None)
        assert result.to_dict() == {
            "gate": "accuracy >= 0.9",
            "passed": True,
            "reason": "0.95 >= 0.9",
            "left": 0.95,
            "right": 0.9,
        }


class TestEvaluatingSeveralGates:
    def test_every_gate_is_reported_not_just_the_first_failure(self) -> None:
        gates: list[Gate] = [
            parse_gate("accuracy >= 0.9"),
            parse_gate("f1 >= live.f1 - 0.01"),
            parse_gate("latency_p99_ms < 250"),
        ]
        results = evaluate_gates(
            gates, {"accuracy": 0.8, "f1": 0.91, "latency_p99_ms": 300}, {"f1": 0.9}
        )
        assert [(r.gate, r.passed) for r in results] == [
            ("accuracy >= 0.9", False),
            ("f1 >= live.f1 - 0.01", True),
            ("latency_p99_ms < 250", False),
        ]

    def test_no_gates_give_no_results(self) -> None:
        assert evaluate_gates([], {}, None) == []
