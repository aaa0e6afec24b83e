"""Conformance table for the EventBridge event-pattern language (signoff.domain.patterns).

Each case is (pattern, event, expected) and says what AWS EventBridge answers for it; where
AWS's documentation is silent the answer follows aws/event-ruler, the engine behind it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from signoff.domain.patterns import compile_pattern, matches, validate_pattern
from signoff.errors import PatternInvalid

EVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "evt-1",
    "source": "signoff/registry",
    "type": "signoff.version.registered",
    "subject": "models/churn/versions/3",
    "time": "2024-05-01T12:00:00Z",
    "detail-type": "Model Version Registered",
    "data": {
        "model": "churn",
        "version": 3,
        "accuracy": 0.93,
        "environment": "dev",
        "tags": ["tabular", "gbm"],
        "approved": True,
        "reviewer": None,
        "comment": "",
        "client_ip": "10.0.0.33",
        "metrics": [{"name": "accuracy", "value": 0.93}, {"name": "f1", "value": 0.88}],
        "artifact": {"uri": "s3://models/churn/3/model.onnx", "digest": {"sha256": "ab12"}},
    },
}


def case(case_id: str, pattern: Any, event: Any, expected: bool) -> Any:
    return pytest.param(pattern, event, expected, id=case_id)


def assert_match(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    pattern_before, event_before = copy.deepcopy(pattern), copy.deepcopy(event)
    assert matches(pattern, event) is expected
    assert compile_pattern(pattern).matches(event) is expected
    assert (pattern, event) == (pattern_before, event_before), "matching must not mutate"


CASE_ARGS = ("pattern", "event", "expected")

EXACT = [
    case("string-equal", {"source": ["signoff/registry"]}, EVENT, True),
    case("string-different", {"source": ["signoff/other"]}, EVENT, False),
    case("one-of-several-strings", {"type": ["x", "signoff.version.registered"]}, EVENT, True),
    case("string-is-case-sensitive", {"source": ["SIGNOFF/registry"]}, EVENT, False),
    case("whitespace-matters", {"s": ["a"]}, {"s": "a "}, False),
    case("unicode-string", {"name": ["café"]}, {"name": "café"}, True),
    case("integer-matches-integer", {"data": {"version": [3]}}, EVENT, True),
    case("integer-matches-equal-float", {"n": [3]}, {"n": 3.0}, True),
    case("float-matches-equal-integer", {"n": [3.0]}, {"n": 3}, True),
    case("exponent-form-is-the-same-number", {"n": [301.8]}, {"n": 3.018e2}, True),
    case("integer-does-not-match-string", {"n": [3]}, {"n": "3"}, False),
    case("string-does-not-match-integer", {"n": ["3"]}, {"n": 3}, False),
    case("different-number", {"n": [3]}, {"n": 3.5}, False),
    case("large-account-number", {"account": [123456789012]}, {"account": 123456789012}, True),
    case("large-integer-is-exact", {"n": [9007199254740993]}, {"n": 9007199254740992.0}, False),
    case("true-matches-true", {"data": {"approved": [True]}}, EVENT, True),
    case("true-does-not-match-false", {"b": [True]}, {"b": False}, False),
    case("true-does-not-match-string-true", {"b": [True]}, {"b": "true"}, False),
    case("string-true-does-not-match-true", {"b": ["true"]}, {"b": True}, False),
    case("true-does-not-match-one", {"b": [True]}, {"b": 1}, False),
    case("one-does-not-match-true", {"b": [1]}, {"b": True}, False),
    case("false-does-not-match-zero", {"b": [False]}, {"b": 0}, False),
    case("null-matches-null", {"data": {"reviewer": [None]}}, EVENT, True),
    case("null-does-not-match-missing", {"r": [None]}, {}, False),
    case("null-does-not-match-empty-string", {"r": [None]}, {"r": ""}, False),
    case("empty-string-matches-empty-string", {"data": {"comment": [""]}}, EVENT, True),
    case("empty-string-does-not-match-null", {"r": [""]}, {"r": None}, False),
    case("null-does-not-match-string-null", {"r": [None]}, {"r": "null"}, False),
    case("missing-field-does-not-match", {"nope": ["x"]}, EVENT, False),
    case("empty-pattern-matches-any-event", {}, EVENT, True),
    case("empty-pattern-matches-empty-event", {}, {}, True),
    case("all-fields-must-match", {"source": ["signoff/registry"], "type": ["x"]}, EVENT, False),
    case("all-fields-match", {"source": ["signoff/registry"], "id": ["evt-1"]}, EVENT, True),
    case("dashed-key", {"detail-type": ["Model Version Registered"]}, EVENT, True),
    case("scalar-pattern-does-not-match-object", {"data": ["churn"]}, EVENT, False),
    case("object-pattern-does-not-match-scalar", {"source": {"x": ["y"]}}, EVENT, False),
]

ARRAYS_AND_NESTING = [
    case("any-array-element-matches", {"data": {"tags": ["gbm"]}}, EVENT, True),
    case("no-array-element-matches", {"data": {"tags": ["cnn"]}}, EVENT, False),
    case("pattern-alternatives-intersect-array", {"t": ["x", "b"]}, {"t": ["a", "b"]}, True),
    case("empty-event-array-matches-nothing", {"t": ["x"]}, {"t": []}, False),
    case("nested-arrays-of-scalars", {"t": ["x"]}, {"t": [["a"], ["x"]]}, True),
    case("mixed-type-array", {"t": [3]}, {"t": ["3", 3.0]}, True),
    case(
        "deeply-nested-path", {"data": {"artifact": {"digest": {"sha256": ["ab12"]}}}}, EVENT, True
    ),
    case(
        "deeply-nested-path-wrong-value",
        {"data": {"artifact": {"digest": {"sha256": ["ff"]}}}},
        EVENT,
        False,
    ),
    case("nested-parent-missing", {"data": {"x": {"y": ["z"]}}}, EVENT, False),
    case("array-of-objects-one-field", {"data": {"metrics": {"name": ["f1"]}}}, EVENT, True),
    case(
        "array-of-objects-fields-from-same-element",
        {"data": {"metrics": {"name": ["f1"], "value": [0.88]}}},
        EVENT,
        True,
    ),
    case(
        "array-of-objects-fields-never-combine-across-elements",
        {"data": {"metrics": {"name": ["f1"], "value": [0.93]}}},
        EVENT,
        False,
    ),
    case(
        "array-of-objects-numeric-field",
        {"data": {"metrics": {"value": [{"numeric": [">", 0.9]}]}}},
        EVENT,
        True,
    ),
    case(
        "arrays-of-objects-inside-arrays-of-objects",
        {"a": {"b": {"c": ["x"]}}},
        {"a": [{"b": [{"c": "y"}, {"c": "x"}]}]},
        True,
    ),
    case(
        "multi-level-arrays-are-crushed",
        {"people": {"first": ["Anna"]}},
        {"people": [[{"first": "John"}], [{"first": "Anna"}]]},
        True,
    ),
    case(
        "multi-level-arrays-stay-consistent",
        {"people": {"first": ["Anna"], "last": ["Jones"]}},
        {"people": [[{"first": "Anna", "last": "Smith"}], [{"first": "Peter", "last": "Jones"}]]},
        False,
    ),
    case(
        "object-pattern-does-not-match-array-of-scalars",
        {"data": {"tags": {"x": ["y"]}}},
        EVENT,
        False,
    ),
    case("dotted-key-is-a-literal-key", {"a.b": ["x"]}, {"a": {"b": "x"}}, False),
    case("dotted-key-matches-literally", {"a.b": ["x"]}, {"a.b": "x"}, True),
]

NUMERIC = [
    case("range-includes-upper-bound", {"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": 5}, True),
    case(
        "range-excludes-open-lower-bound", {"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": 0}, False
    ),
    case("range-inside", {"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": 0.5}, True),
    case("range-just-above", {"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": 5.000001}, False),
    case("closed-lower-bound", {"n": [{"numeric": [">=", 0, "<", 5]}]}, {"n": 0}, True),
    case("open-upper-bound", {"n": [{"numeric": [">=", 0, "<", 5]}]}, {"n": 5}, False),
    case("less-than", {"n": [{"numeric": ["<", 10]}]}, {"n": 9.99}, True),
    case("less-than-excludes-bound", {"n": [{"numeric": ["<", 10]}]}, {"n": 10}, False),
    case("less-or-equal-includes-bound", {"n": [{"numeric": ["<=", 10]}]}, {"n": 10}, True),
    case("greater-or-equal-includes-bound", {"n": [{"numeric": [">=", 10]}]}, {"n": 10}, True),
    case("greater-than-excludes-bound", {"n": [{"numeric": [">", 10]}]}, {"n": 10}, False),
    case("equals-integer", {"n": [{"numeric": ["=", 3]}]}, {"n": 3}, True),
    case("equals-integer-matches-equal-float", {"n": [{"numeric": ["=", 3]}]}, {"n": 3.0}, True),
    case("equals-float", {"n": [{"numeric": ["=", 3.5]}]}, {"n": 3.5}, True),
    case("equals-exponent-form", {"n": [{"numeric": ["=", 3.018e2]}]}, {"n": 301.8}, True),
    case("equals-other-number", {"n": [{"numeric": ["=", 3]}]}, {"n": 4}, False),
    case(
        "numeric-does-not-match-numeric-string", {"n": [{"numeric": ["=", 3]}]}, {"n": "3"}, False
    ),
    case("numeric-range-does-not-match-string", {"n": [{"numeric": [">", 0]}]}, {"n": "5"}, False),
    case("numeric-does-not-match-boolean", {"n": [{"numeric": [">", 0]}]}, {"n": True}, False),
    case("numeric-does-not-match-null", {"n": [{"numeric": [">", 0]}]}, {"n": None}, False),
    case("numeric-does-not-match-missing", {"n": [{"numeric": [">", 0]}]}, {}, False),
    case("negative-range", {"n": [{"numeric": [">=", -10, "<", -1]}]}, {"n": -5}, True),
    case("any-array-element-in-range", {"n": [{"numeric": [">", 100]}]}, {"n": [1, 200]}, True),
    case("no-array-element-in-range", {"n": [{"numeric": [">", 100]}]}, {"n": [1, 2]}, False),
    case("numeric-or-exact-alternative", {"n": [{"numeric": [">", 10]}, 0]}, {"n": 0}, True),
    case("accuracy-gate-passes", {"data": {"accuracy": [{"numeric": [">=", 0.9]}]}}, EVENT, True),
    case("accuracy-gate-fails", {"data": {"accuracy": [{"numeric": [">=", 0.95]}]}}, EVENT, False),
]

PREFIX_SUFFIX = [
    case("prefix", {"type": [{"prefix": "signoff.version."}]}, EVENT, True),
    case("prefix-no-match", {"type": [{"prefix": "signoff.approval."}]}, EVENT, False),
    case("prefix-is-case-sensitive", {"type": [{"prefix": "Signoff."}]}, EVENT, False),
    case(
        "prefix-ignore-case",
        {"type": [{"prefix": {"equals-ignore-case": "SIGNOFF.VERSION"}}]},
        EVENT,
        True,
    ),
    case(
        "prefix-ignore-case-no-match",
        {"type": [{"prefix": {"equals-ignore-case": "SIGNOFF.APPROVAL"}}]},
        EVENT,
        False,
    ),
    case("prefix-longer-than-value", {"s": [{"prefix": "abcdef"}]}, {"s": "abc"}, False),
    case("prefix-does-not-match-number", {"n": [{"prefix": "1"}]}, {"n": 12}, False),
    case("empty-prefix-matches-any-string", {"s": [{"prefix": ""}]}, {"s": "x"}, True),
    case("empty-prefix-does-not-match-number", {"s": [{"prefix": ""}]}, {"s": 1}, False),
    case("prefix-on-array-element", {"data": {"tags": [{"prefix": "gb"}]}}, EVENT, True),
    case("suffix", {"subject": [{"suffix": "/versions/3"}]}, EVENT, True),
    case("suffix-no-match", {"subject": [{"suffix": "/versions/4"}]}, EVENT, False),
    case(
        "suffix-is-case-sensitive",
        {"data": {"artifact": {"uri": [{"suffix": ".ONNX"}]}}},
        EVENT,
        False,
    ),
    case(
        "suffix-ignore-case",
        {"data": {"artifact": {"uri": [{"suffix": {"equals-ignore-case": ".ONNX"}}]}}},
        EVENT,
        True,
    ),
    case("suffix-does-not-match-null", {"r": [{"suffix": "ll"}]}, {"r": None}, False),
]

EQUALS_IGNORE_CASE = [
    case(
        "equals-ignore-case",
        {"data": {"environment": [{"equals-ignore-case": "DEV"}]}},
        EVENT,
        True,
    ),
    case(
        "equals-ignore-case-other-word",
        {"data": {"environment": [{"equals-ignore-case": "prod"}]}},
        EVENT,
        False,
    ),
    case(
        "equals-ignore-case-is-not-prefix",
        {"s": [{"equals-ignore-case": "de"}]},
        {"s": "dev"},
        False,
    ),
    case(
        "equals-ignore-case-does-not-match-number",
        {"n": [{"equals-ignore-case": "3"}]},
        {"n": 3},
        False,
    ),
    case(
        "equals-ignore-case-on-array",
        {"data": {"tags": [{"equals-ignore-case": "GBM"}]}},
        EVENT,
        True,
    ),
    case(
        "equals-ignore-case-non-ascii", {"s": [{"equals-ignore-case": "ÉTÉ"}]}, {"s": "été"}, True
    ),
]

ANYTHING_BUT = [
    case("excluded-string", {"env": [{"anything-but": "prod"}]}, {"env": "prod"}, False),
    case("other-string", {"env": [{"anything-but": "prod"}]}, {"env": "dev"}, True),
    case(
        "excluded-string-is-case-sensitive",
        {"env": [{"anything-but": "prod"}]},
        {"env": "PROD"},
        True,
    ),
    case(
        "string-in-excluded-list",
        {"env": [{"anything-but": ["prod", "uat"]}]},
        {"env": "uat"},
        False,
    ),
    case(
        "string-not-in-excluded-list",
        {"env": [{"anything-but": ["prod", "uat"]}]},
        {"env": "dev"},
        True,
    ),
    case("excluded-number", {"n": [{"anything-but": 100}]}, {"n": 100}, False),
    case("excluded-number-as-float", {"n": [{"anything-but": 100}]}, {"n": 100.0}, False),
    case("other-number", {"n": [{"anything-but": 100}]}, {"n": 101}, True),
    case("number-in-excluded-list", {"n": [{"anything-but": [100, 200]}]}, {"n": 200}, False),
    case("number-not-in-excluded-list", {"n": [{"anything-but": [100, 200]}]}, {"n": 150}, True),
    case(
        "numeric-exclusion-lets-numeric-string-through",
        {"n": [{"anything-but": 100}]},
        {"n": "100"},
        True,
    ),
    case("numeric-exclusion-lets-boolean-through", {"n": [{"anything-but": 1}]}, {"n": True}, True),
    case("string-exclusion-lets-number-through", {"n": [{"anything-but": "3"}]}, {"n": 3}, True),
    case("anything-but-needs-the-field", {"env": [{"anything-but": "prod"}]}, {}, False),
    case("anything-but-matches-null", {"env": [{"anything-but": "prod"}]}, {"env": None}, True),
    case("anything-but-matches-boolean", {"env": [{"anything-but": "prod"}]}, {"env": True}, True),
    case("array-with-one-allowed-element", {"t": [{"anything-but": "a"}]}, {"t": ["a", "b"]}, True),
    case(
        "array-with-only-excluded-elements",
        {"t": [{"anything-but": ["a", "b"]}]},
        {"t": ["a", "b"]},
        False,
    ),
    case(
        "not-prefix-allowed",
        {"region": [{"anything-but": {"prefix": "us-"}}]},
        {"region": "eu-west-1"},
        True,
    ),
    case(
        "not-prefix-excluded",
        {"region": [{"anything-but": {"prefix": "us-"}}]},
        {"region": "us-east-1"},
        False,
    ),
    case(
        "not-prefix-lets-number-through",
        {"n": [{"anything-but": {"prefix": "1"}}]},
        {"n": 12},
        True,
    ),
    case(
        "not-suffix-excluded", {"f": [{"anything-but": {"suffix": ".png"}}]}, {"f": "a.png"}, False
    ),
    case("not-suffix-allowed", {"f": [{"anything-but": {"suffix": ".png"}}]}, {"f": "a.jpg"}, True),
    case(
        "not-equals-ignore-case-excluded",
        {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
        {"state": "INITIALIZING"},
        False,
    ),
    case(
        "not-equals-ignore-case-allowed",
        {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
        {"state": "running"},
        True,
    ),
    case(
        "not-equals-ignore-case-list",
        {"state": [{"anything-but": {"equals-ignore-case": ["a", "b"]}}]},
        {"state": "B"},
        False,
    ),
    case(
        "not-wildcard-excluded",
        {"p": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"p": "/usr/lib/x"},
        False,
    ),
    case(
        "not-wildcard-allowed",
        {"p": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"p": "/usr/bin/x"},
        True,
    ),
    case(
        "not-prefix-list",
        {"r": [{"anything-but": {"prefix": ["us-", "eu-"]}}]},
        {"r": "eu-west-1"},
        False,
    ),
]

EXISTS = [
    case("exists-true-present", {"source": [{"exists": True}]}, EVENT, True),
    case("exists-true-missing", {"nope": [{"exists": True}]}, EVENT, False),
    case("exists-false-missing", {"nope": [{"exists": False}]}, EVENT, True),
    case("exists-false-present", {"source": [{"exists": False}]}, EVENT, False),
    case(
        "null-is-present-for-exists-true", {"data": {"reviewer": [{"exists": True}]}}, EVENT, True
    ),
    case(
        "null-is-not-absence-for-exists-false",
        {"data": {"reviewer": [{"exists": False}]}},
        EVENT,
        False,
    ),
    case("empty-string-is-present", {"s": [{"exists": True}]}, {"s": ""}, True),
    case("empty-string-is-not-absent", {"s": [{"exists": False}]}, {"s": ""}, False),
    case("false-is-not-absent", {"b": [{"exists": False}]}, {"b": False}, False),
    case("zero-is-present", {"n": [{"exists": True}]}, {"n": 0}, True),
    case(
        "object-value-is-not-a-leaf-for-exists-true",
        {"data": {"artifact": [{"exists": True}]}},
        EVENT,
        False,
    ),
    case(
        "object-value-is-not-a-leaf-for-exists-false",
        {"data": {"artifact": [{"exists": False}]}},
        EVENT,
        True,
    ),
    case("empty-array-has-no-leaf-for-exists-true", {"t": [{"exists": True}]}, {"t": []}, False),
    case("empty-array-has-no-leaf-for-exists-false", {"t": [{"exists": False}]}, {"t": []}, True),
    case("array-of-scalars-exists", {"data": {"tags": [{"exists": True}]}}, EVENT, True),
    case(
        "exists-false-under-missing-parent",
        {"data": {"x": {"y": [{"exists": False}]}}},
        EVENT,
        True,
    ),
    case("exists-true-deep", {"data": {"artifact": {"uri": [{"exists": True}]}}}, EVENT, True),
    case(
        "exists-false-field-in-one-array-element",
        {"items": {"sku": [{"exists": False}]}},
        {"items": [{"sku": "a"}, {"qty": 1}]},
        False,
    ),
    case(
        "exists-false-field-in-no-array-element",
        {"items": {"sku": [{"exists": False}]}},
        {"items": [{"qty": 2}, {"qty": 1}]},
        True,
    ),
    case(
        "exists-true-field-in-one-array-element",
        {"items": {"sku": [{"exists": True}]}},
        {"items": [{"qty": 2}, {"sku": "a"}]},
        True,
    ),
    case("value-or-absent-when-absent", {"r": ["x", {"exists": False}]}, {}, True),
    case("value-or-absent-when-value", {"r": ["x", {"exists": False}]}, {"r": "x"}, True),
    case("value-or-absent-when-other-value", {"r": ["x", {"exists": False}]}, {"r": "y"}, False),
    case("exists-false-with-other-field", {"a": ["1"], "b": [{"exists": False}]}, {"a": "1"}, True),
]

CIDR = [
    case("ipv4-inside", {"data": {"client_ip": [{"cidr": "10.0.0.0/24"}]}}, EVENT, True),
    case("ipv4-outside", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.1.1"}, False),
    case("ipv4-slash-32", {"ip": [{"cidr": "10.0.0.1/32"}]}, {"ip": "10.0.0.1"}, True),
    case("ipv4-slash-8-edge", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "10.255.255.255"}, True),
    case("ipv4-slash-0", {"ip": [{"cidr": "0.0.0.0/0"}]}, {"ip": "203.0.113.9"}, True),
    case(
        "host-bits-in-block-are-ignored",
        {"ip": [{"cidr": "10.0.0.5/24"}]},
        {"ip": "10.0.0.200"},
        True,
    ),
    case("not-an-ip", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "localhost"}, False),
    case("number-is-not-an-ip", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": 10}, False),
    case("ipv6-inside", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8::1"}, True),
    case("ipv6-outside", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db9::1"}, False),
    case("ipv4-address-against-ipv6-block", {"ip": [{"cidr": "::/0"}]}, {"ip": "10.0.0.1"}, False),
    case(
        "any-array-element-inside",
        {"ip": [{"cidr": "10.0.0.0/8"}]},
        {"ip": ["192.168.1.1", "10.1.2.3"]},
        True,
    ),
]

WILDCARD = [
    case("star-in-the-middle", {"type": [{"wildcard": "signoff.*.registered"}]}, EVENT, True),
    case("star-no-match", {"type": [{"wildcard": "signoff.*.approved"}]}, EVENT, False),
    case("several-stars", {"subject": [{"wildcard": "models/*/versions/*"}]}, EVENT, True),
    case("leading-star", {"data": {"artifact": {"uri": [{"wildcard": "*.onnx"}]}}}, EVENT, True),
    case("star-matches-empty-run", {"s": [{"wildcard": "a*b"}]}, {"s": "ab"}, True),
    case("lone-star-matches-empty-string", {"s": [{"wildcard": "*"}]}, {"s": ""}, True),
    case("star-matches-newline", {"s": [{"wildcard": "a*c"}]}, {"s": "a\nc"}, True),
    case("no-star-is-whole-string", {"s": [{"wildcard": "abc"}]}, {"s": "abcd"}, False),
    case("escaped-star-is-literal", {"s": [{"wildcard": "a\\*b"}]}, {"s": "a*b"}, True),
    case("escaped-star-is-not-a-wildcard", {"s": [{"wildcard": "a\\*b"}]}, {"s": "axb"}, False),
    case("escaped-backslash", {"s": [{"wildcard": "a\\\\b"}]}, {"s": "a\\b"}, True),
    case("regex-characters-are-literal", {"s": [{"wildcard": "a.c"}]}, {"s": "abc"}, False),
    case(
        "wildcard-is-case-sensitive", {"s": [{"wildcard": "Signoff*"}]}, {"s": "signoff.x"}, False
    ),
    case("wildcard-does-not-match-number", {"n": [{"wildcard": "1*"}]}, {"n": 12}, False),
]

OR = [
    case("first-branch", {"$or": [{"source": ["signoff/registry"]}, {"type": ["x"]}]}, EVENT, True),
    case(
        "second-branch",
        {"$or": [{"source": ["x"]}, {"type": ["signoff.version.registered"]}]},
        EVENT,
        True,
    ),
    case("no-branch", {"$or": [{"source": ["x"]}, {"type": ["y"]}]}, EVENT, False),
    case(
        "or-is-anded-with-siblings",
        {"source": ["x"], "$or": [{"id": ["evt-1"]}, {"type": ["y"]}]},
        EVENT,
        False,
    ),
    case(
        "or-and-sibling-both-hold",
        {"source": ["signoff/registry"], "$or": [{"id": ["evt-1"]}, {"type": ["y"]}]},
        EVENT,
        True,
    ),
    case(
        "branch-fields-are-anded",
        {"$or": [{"a": [1], "b": [2]}, {"c": [3]}]},
        {"a": 1, "b": 3},
        False,
    ),
    case(
        "nested-or-inside-branch",
        {"$or": [{"a": [1]}, {"b": [2], "$or": [{"c": [3]}, {"d": [4]}]}]},
        {"b": 2, "d": 4},
        True,
    ),
    case(
        "nested-or-inside-branch-fails",
        {"$or": [{"a": [1]}, {"b": [2], "$or": [{"c": [3]}, {"d": [4]}]}]},
        {"b": 2, "d": 5},
        False,
    ),
    case(
        "or-inside-nested-object",
        {"data": {"$or": [{"environment": ["prod"]}, {"accuracy": [{"numeric": [">", 0.9]}]}]}},
        EVENT,
        True,
    ),
    case(
        "or-inside-nested-object-fails",
        {"data": {"$or": [{"environment": ["prod"]}, {"accuracy": [{"numeric": [">", 0.95]}]}]}},
        EVENT,
        False,
    ),
    case(
        "parallel-ors",
        {"$or": [{"a": [1]}, {"b": [1]}], "detail": {"$or": [{"c": [1]}, {"d": [1]}]}},
        {"b": 1, "detail": {"c": 1}},
        True,
    ),
    case(
        "parallel-ors-one-fails",
        {"$or": [{"a": [1]}, {"b": [1]}], "detail": {"$or": [{"c": [1]}, {"d": [1]}]}},
        {"b": 1, "detail": {"e": 1}},
        False,
    ),
    case("or-with-absent-branch", {"$or": [{"a": [{"exists": False}]}, {"a": ["x"]}]}, {}, True),
    case(
        "or-inside-array-of-objects",
        {"items": {"$or": [{"a": [1]}, {"b": [2]}]}},
        {"items": [{"a": 0}, {"b": 2}]},
        True,
    ),
    case(
        "three-branches-last-matches",
        {"$or": [{"a": ["x"]}, {"a": [{"prefix": "y"}]}, {"a": [{"numeric": ["<", 0]}]}]},
        {"a": -1},
        True,
    ),
]


class TestExactMatching:
    @pytest.mark.parametrize(CASE_ARGS, EXACT)
    def test_matches_as_eventbridge_does(self, pattern: Any, event: Any, expected: bool) -> None:
        assert_match(pattern, event, expected)


class TestArraysAndNestedObjects:
    @pytest.mark.parametrize(CASE_ARGS, ARRAYS_AND_NESTING)
    def test_matches_as_eventbridge_does(self, pattern: Any, event: Any, expected: bool) -> None:
        assert_match(pattern, event, expected)


class TestNumericMatching:
    @pytest.mark.parametrize(CASE_ARGS, NUMERIC)
    def test_matches_as_eventbridge_does(self, pattern: Any, event: Any, expected: bool) -> None:
        assert_match(pattern, event, expected)

    def test_integer_matches_equal_float_parsed_from_json(self) -> None:
        pattern = json.loads('{"n": [{"numeric": ["=", 3]}], "m": [3]}')
        assert matches(pattern, json.loads('{"n": 3.0, "m": 3.0e0}'))
        assert not matches(pattern, json.loads('{"n": "3", "m": 3}'))


class TestPrefixAndSuffixMatching:
    @pytest.mark.parametrize(CASE_ARGS, PREFIX_SUFFIX)
    def test_matches_as_eventbridge_does(self, pattern: Any, event: Any, expected: bool) -> None:
        assert_match(pattern, event, expected)


class TestEqualsIgnoreCaseMatching:
    @pytest.mark.parametrize(CASE_ARGS, EQUALS_IGNORE_CASE)
    def test_matches_as_eventbridge_does(self, pattern: Any, event: Any, expected: bool) -> None:
        assert_match(pattern, event, expected)


class TestAnythingButMatching:
    @pytest.mark.parametrize(CASE_ARGS, ANYTHING_BUT)
    def test_matches_as_eventbridge_does(self, pattern: Any, event: Any, expected: bool) -> None:
        assert_match(pattern, event, expected)


class TestExistsMatching:
    @pytest.mark.parametrize(CASE_ARGS, EXISTS)
    def test_matches_as_eventbridge_does(self, pattern: Any, event: Any, expected: bool) -> None:
        assert_match(pattern, event, expected)


class TestCidrMatching:
    @pytest.mark.parametrize(CASE_ARGS, CIDR)
    def test_matches_as_eventbridge_does(self, pattern: Any, event: Any, expected: bool) -> None:
        assert_match(pattern, event, expected)


class TestWildcardMatching:
    @pytest.mark.parametrize(CASE_ARGS, WILDCARD)
    def test_matches_as_eventbridge_does(self, pattern: Any, event: Any, expected: bool) -> None:
        assert_match(pattern, event, expected)


class TestOrMatching:
    @pytest.mark.parametrize(CASE_ARGS, OR)
    def test_matches_as_eventbridge_does(self, pattern: Any, event: Any, expected: bool) -> None:
        assert_match(pattern, event, expected)


def invalid(case_id: str, pattern: Any, path: str) -> Any:
    return pytest.param(pattern, path, id=case_id)


INVALID = [
    invalid("pattern-is-an-array", ["source"], "$"),
    invalid("pattern-is-a-string", "source", "$"),
    invalid("pattern-is-null", None, "$"),
    invalid("field-name-not-a-string", {1: ["x"]}, "$"),
    invalid("leaf-is-a-string", {"source": "signoff/registry"}, "$.source"),
    invalid("leaf-is-a-number", {"detail": {"version": 3}}, "$.detail.version"),
    invalid("empty-array", {"source": []}, "$.source"),
    invalid("nested-empty-object", {"detail": {}}, "$.detail"),
    invalid("array-inside-leaf", {"source": [["x"]]}, "$.source[0]"),
    invalid("infinite-number", {"n": [float("inf")]}, "$.n[0]"),
    invalid("odd-key-is-quoted-in-path", {"my key": "x"}, "$['my key']"),
    invalid("unknown-operator", {"a": [{"contains": "x"}]}, "$.a[0]"),
    invalid("two-operators-in-one-object", {"a": [{"prefix": "x", "suffix": "y"}]}, "$.a[0]"),
    invalid("empty-operator-object", {"a": [{}]}, "$.a[0]"),
    invalid("prefix-not-a-string", {"a": [{"prefix": 1}]}, "$.a[0].prefix"),
    invalid(
        "prefix-ignore-case-not-a-string",
        {"a": [{"prefix": {"equals-ignore-case": 1}}]},
        "$.a[0].prefix.equals-ignore-case",
    ),
    invalid(
        "prefix-with-unknown-modifier", {"a": [{"prefix": {"wildcard": "x*"}}]}, "$.a[0].prefix"
    ),
    invalid("suffix-not-a-string", {"a": [{"suffix": ["x"]}]}, "$.a[0].suffix"),
    invalid(
        "equals-ignore-case-not-a-string",
        {"a": [{"equals-ignore-case": ["x"]}]},
        "$.a[0].equals-ignore-case",
    ),
    invalid("exists-not-a-boolean", {"a": [{"exists": "true"}]}, "$.a[0].exists"),
    invalid("numeric-not-an-array", {"a": [{"numeric": 5}]}, "$.a[0].numeric"),
    invalid("numeric-empty", {"a": [{"numeric": []}]}, "$.a[0].numeric"),
    invalid("numeric-unknown-operator", {"a": [{"numeric": ["!=", 3]}]}, "$.a[0].numeric[0]"),
    invalid("numeric-operator-not-a-string", {"a": [{"numeric": [3, ">"]}]}, "$.a[0].numeric[0]"),
    invalid("numeric-operand-is-a-string", {"a": [{"numeric": [">", "5"]}]}, "$.a[0].numeric[1]"),
    invalid("numeric-operand-is-a-boolean", {"a": [{"numeric": [">", True]}]}, "$.a[0].numeric[1]"),
    invalid(
        "numeric-operand-is-nan", {"a": [{"numeric": [">", float("nan")]}]}, "$.a[0].numeric[1]"
    ),
    invalid("numeric-operator-without-operand", {"a": [{"numeric": [">"]}]}, "$.a[0].numeric"),
    invalid(
        "numeric-lower-bound-above-upper",
        {"detail": {"price": [{"numeric": [">", 5, "<", 1]}]}},
        "$.detail.price[0].numeric[3]",
    ),
    invalid("numeric-equal-bounds", {"a": [{"numeric": [">=", 5, "<=", 5]}]}, "$.a[0].numeric[3]"),
    invalid(
        "numeric-upper-bound-first", {"a": [{"numeric": ["<", 5, ">", 1]}]}, "$.a[0].numeric[2]"
    ),
    invalid(
        "numeric-equals-with-range", {"a": [{"numeric": ["=", 5, "<", 6]}]}, "$.a[0].numeric[2]"
    ),
    invalid(
        "numeric-two-lower-bounds", {"a": [{"numeric": [">", 0, ">", 5]}]}, "$.a[0].numeric[2]"
    ),
    invalid("numeric-range-missing-top", {"a": [{"numeric": [">", 0, "<"]}]}, "$.a[0].numeric"),
    invalid(
        "numeric-range-top-not-a-number",
        {"a": [{"numeric": [">", 0, "<", "9"]}]},
        "$.a[0].numeric[3]",
    ),
    invalid(
        "numeric-too-many-terms", {"a": [{"numeric": [">", 0, "<", 9, "<", 10]}]}, "$.a[0].numeric"
    ),
    invalid("cidr-prefix-too-long", {"ip": [{"cidr": "10.0.0.0/33"}]}, "$.ip[0].cidr"),
    invalid("cidr-not-an-address", {"ip": [{"cidr": "not-an-ip/8"}]}, "$.ip[0].cidr"),
    invalid("cidr-without-prefix-length", {"ip": [{"cidr": "10.0.0.1"}]}, "$.ip[0].cidr"),
    invalid("cidr-not-a-string", {"ip": [{"cidr": 10}]}, "$.ip[0].cidr"),
    invalid("wildcard-consecutive-stars", {"s": [{"wildcard": "a**b"}]}, "$.s[0].wildcard"),
    invalid("wildcard-escapes-other-character", {"s": [{"wildcard": "a\\b"}]}, "$.s[0].wildcard"),
    invalid("wildcard-trailing-backslash", {"s": [{"wildcard": "a\\"}]}, "$.s[0].wildcard"),
    invalid("wildcard-not-a-string", {"s": [{"wildcard": 1}]}, "$.s[0].wildcard"),
    invalid("anything-but-null", {"a": [{"anything-but": None}]}, "$.a[0].anything-but"),
    invalid("anything-but-boolean", {"a": [{"anything-but": True}]}, "$.a[0].anything-but"),
    invalid("anything-but-empty-list", {"a": [{"anything-but": []}]}, "$.a[0].anything-but"),
    invalid("anything-but-mixed-list", {"a": [{"anything-but": ["a", 1]}]}, "$.a[0].anything-but"),
    invalid(
        "anything-but-list-with-null",
        {"a": [{"anything-but": ["a", None]}]},
        "$.a[0].anything-but[1]",
    ),
    invalid(
        "anything-but-numeric-operator",
        {"a": [{"anything-but": {"numeric": [">", 1]}}]},
        "$.a[0].anything-but",
    ),
    invalid(
        "anything-but-empty-prefix",
        {"a": [{"anything-but": {"prefix": ""}}]},
        "$.a[0].anything-but.prefix",
    ),
    invalid(
        "anything-but-prefix-not-a-string",
        {"a": [{"anything-but": {"prefix": 1}}]},
        "$.a[0].anything-but.prefix",
    ),
    invalid(
        "anything-but-wildcard-consecutive-stars",
        {"a": [{"anything-but": {"wildcard": "**"}}]},
        "$.a[0].anything-but.wildcard",
    ),
    invalid("or-not-an-array", {"$or": {"a": ["x"]}}, "$.$or"),
    invalid("or-with-one-branch", {"$or": [{"a": ["x"]}]}, "$.$or"),
    invalid("or-branch-not-an-object", {"$or": [{"a": ["x"]}, ["b"]]}, "$.$or[1]"),
    invalid("or-branch-empty", {"$or": [{}, {"a": ["x"]}]}, "$.$or[0]"),
    invalid(
        "or-branch-uses-operator-as-field",
        {"$or": [{"prefix": ["x"]}, {"a": ["y"]}]},
        "$.$or[0].prefix",
    ),
    invalid(
        "fault-deep-inside-or-branch",
        {"$or": [{"a": ["x"]}, {"b": {"c": [{"numeric": [">", "x"]}]}}]},
        "$.$or[1].b.c[0].numeric[1]",
    ),
    invalid("nested-or-not-an-array", {"detail": {"$or": "x"}}, "$.detail.$or"),
]


class TestInvalidPatterns:
    @pytest.mark.parametrize(("pattern", "path"), INVALID)
    def test_refusal_names_the_json_path(self, pattern: Any, path: str) -> None:
        with pytest.raises(PatternInvalid) as caught:
            validate_pattern(pattern)
        assert caught.value.code == "invalid_pattern"
        assert caught.value.details == {"path": path}
        assert str(caught.value).startswith(f"{path}: ")

    @pytest.mark.parametrize(("pattern", "path"), INVALID[4:10])
    def test_compile_and_match_refuse_it_too(self, pattern: Any, path: str) -> None:
        with pytest.raises(PatternInvalid):
            compile_pattern(pattern)
        with pytest.raises(PatternInvalid):
            matches(pattern, EVENT)

    def test_every_conformance_pattern_is_valid(self) -> None:
        for param in (
            EXACT
            + ARRAYS_AND_NESTING
            + NUMERIC
            + PREFIX_SUFFIX
            + EQUALS_IGNORE_CASE
            + ANYTHING_BUT
            + EXISTS
            + CIDR
            + WILDCARD
            + OR
        ):
            validate_pattern(param.values[0])


class TestCompiledPattern:
    def test_one_compiled_pattern_serves_many_events(self) -> None:
        rule = compile_pattern(
            {
                "type": [{"prefix": "signoff.version."}],
                "data": {"environment": ["dev", "test"], "accuracy": [{"numeric": [">=", 0.9]}]},
            }
        )
        events = [
            EVENT,
            {**EVENT, "type": "signoff.approval.requested"},
            {**EVENT, "data": {**EVENT["data"], "environment": "prod"}},
            {**EVENT, "data": {**EVENT["data"], "accuracy": 0.5}},
            {**EVENT, "data": {**EVENT["data"], "environment": "test"}},
        ]
        assert [rule.matches(e) for e in events] == [True, False, False, False, True]

    def test_later_changes_to_the_pattern_do_not_leak_into_it(self) -> None:
        pattern: dict[str, Any] = {"source": ["signoff/registry"]}
        rule = compile_pattern(pattern)
        pattern["source"].append("other")
        assert rule.matches(EVENT)
        assert not rule.matches({**EVENT, "source": "other"})
