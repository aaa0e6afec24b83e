"""The API's body check measures nesting exactly, whatever the strings hold."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from signoff.entrypoints.api.body_guard import _depth, check_body

TEXT = st.text(alphabet=st.sampled_from('[]{}"\\ab\u00e9\x00'), max_size=8)
DOCS = st.recursive(st.none() | st.booleans() | st.integers() | TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                    max_leaves=30)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


class TestNesting:
    @given(DOCS, st.booleans())
    def test_the_byte_scan_agrees_with_the_parsed_document(self, doc: Any, ascii_only: bool) -> None:
        assert _depth(json.dumps(doc, ensure_ascii=ascii_only).encode()) == depth(doc)

    def test_a_body_at_the_limit_passes_and_one_level_more_does_not(self) -> None:
        assert check_body(b"application/json", b"[" * 32 + b"]" * 32) is None
        refused = check_body(b"application/json", b"[" * 33 + b"]" * 33)
        assert refused is not None and refused.details["max_depth"] == 32

    def test_text_that_only_looks_suspicious_passes(self) -> None:
        body = json.dumps({"note": "NaN and Infinity are words; \\u0000 is six characters", "x": "[" * 100}).encode()
        assert check_body(b"application/json", body) is None
