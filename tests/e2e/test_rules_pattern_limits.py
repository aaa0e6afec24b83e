"""`POST /api/v1/rules/test` and `POST /api/v1/rules` cannot be used to freeze the server."""

from __future__ import annotations

import pytest

from signoff.domain.patterns import MAX_PATTERN_CHARS
from tests.e2e.conftest import Api, error_of

V1 = "/api/v1"
PATHOLOGICAL = {"pattern": {"s": [{"wildcard": "*a*a*a*b"}]}, "event": {"s": "a" * 10_000}}
TOO_COMPLEX = {"s": [{"wildcard": "*a*a*a*a*a*"}]}
TOO_LARGE = {"type": [f"signoff.{i:05}" for i in range(MAX_PATTERN_CHARS // 10)]}


class TestPatternTester:
    def test_it_needs_the_rules_or_admin_scope(self, api: Api) -> None:
        body = {"pattern": {"type": ["x"]}, "event": {"type": "x"}}
        r = api.http.post(f"{V1}/rules/test", json=body, headers=api.auth("eve", "resolve"))
        assert r.status_code == 403 and error_of(r)["details"]["required"] == ["rules"]
        for scope in ("rules", "admin"):
            r = api.http.post(f"{V1}/rules/test", json=body, headers=api.auth("eve", scope))
            assert (r.status_code, r.json()) == (200, {"match": True}), scope

    @pytest.mark.timeout(60, method="thread")
    def test_a_pathological_wildcard_is_answered_at_once(self, api: Api) -> None:
        r = api.http.post(f"{V1}/rules/test", json=PATHOLOGICAL, headers=api.auth("eve", "rules"))
        assert (r.status_code, r.json()) == (200, {"match": False})

    @pytest.mark.parametrize(("pattern", "path"), [(TOO_COMPLEX, "$.s[0].wildcard"), (TOO_LARGE, "$")])
    def test_a_pattern_beyond_eventbridge_limits_is_a_400_naming_its_path(self, api: Api, pattern: object,
                                                                          path: str) -> None:
        r = api.http.post(f"{V1}/rules/test", json={"pattern": pattern, "event": {}},
                          headers=api.auth("eve", "rules"))
        assert r.status_code == 400 and error_of(r)["code"] == "invalid_pattern"
        assert error_of(r)["details"]["path"] == path

    @pytest.mark.parametrize(("pattern", "path"), [(TOO_COMPLEX, "$.s[0].wildcard"), (TOO_LARGE, "$")])
    def test_such_a_pattern_is_refused_on_save_and_nothing_is_written(self, api: Api, pattern: object,
                                                                      path: str) -> None:
        admin = api.auth("olga", "admin")
        before = api.counts()
        r = api.http.post(f"{V1}/rules", json={"name": "heavy", "pattern": pattern,
                                               "targets": [{"type": "request_approval"}]}, headers=admin)
        assert r.status_code == 400 and error_of(r)["details"]["path"] == path
        assert api.counts() == before
        assert api.http.get(f"{V1}/rules/heavy", headers=api.auth("eve")).status_code == 404
