"""Input that no handler should see: deep nesting, NaN/Infinity, NUL characters. Each is a 400
with the error body, on the register fast path and on the ordinary routes, on SQLite and
PostgreSQL, and nothing is written."""

from __future__ import annotations

import json
import math

import pytest

from signoff.errors import InvalidInput
from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import unique
from tests.e2e.conftest import Api, error_of

FAST = {"Content-Type": "application/json"}  # the register hot route (routes/versions.py)
ROUTE = {"Content-Type": "application/json; charset=utf-8"}  # the FastAPI route


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


BODIES = {
    "nested-100000": '{"artifact_uri": "s3://b/m.pkl", "metadata": {"a": ' + nested(100_000) + "}}",
    "nested-40": '{"artifact_uri": "s3://b/m.pkl", "metadata": {"a": ' + nested(40) + "}}",
    "nan": '{"artifact_uri": "s3://b/m.pkl", "metadata": {"a": NaN}}',
    "infinity": '{"artifact_uri": "s3://b/m.pkl", "metadata": {"a": [1, Infinity]}}',
    "minus-infinity": '{"artifact_uri": "s3://b/m.pkl", "metadata": {"a": -Infinity}}',
    "nul-in-metadata": json.dumps({"artifact_uri": "s3://b/m.pkl", "metadata": {"a": "x\x00y"}}),
    "nul-in-key": json.dumps({"artifact_uri": "s3://b/m.pkl", "metadata": {"a\x00": 1}}),
    "nul-in-uri": json.dumps({"artifact_uri": "s3://b/m\x00.pkl"}),
    "nul-in-description": json.dumps({"artifact_uri": "s3://b/m.pkl", "description": "\x00"}),
}


class TestRegisteringHostileBodies:
    @pytest.mark.parametrize("headers", [FAST, ROUTE], ids=["fast-path", "route"])
    @pytest.mark.parametrize("case", sorted(BODIES))
    def test_is_a_400_with_the_error_body_and_writes_nothing(self, api: Api, case: str,
                                                            headers: dict[str, str]) -> None:
        model = unique()
        auth = api.auth("dana", "register")
        before = api.counts()
        response = api.http.post(f"/api/v1/models/{model}/versions", content=BODIES[case].encode(),
                                 headers={**auth, **headers})
        assert response.status_code == 400, (response.status_code, response.text[:300])
        assert error_of(response)["code"] == "invalid_input"
        assert api.counts() == before
        assert api.http.get(f"/api/v1/models/{model}", headers=auth).status_code == 404

    def test_the_same_values_through_the_embedded_sdk_are_refused_too(self, api: Api) -> None:
        client = EmbeddedClient(actor="dana", context=api.ctx)
        deep: object = []
        for _ in range(40):
            deep = [deep]
        for metadata in ({"a": math.nan}, {"a": [math.inf]}, {"a": "x\x00"}, {"a\x00": 1}, {"a": deep}):
            with pytest.raises(InvalidInput):
                client.register(unique(), "s3://b/m.pkl", metadata=metadata)

    def test_an_ordinary_registration_still_works_on_both_paths(self, api: Api) -> None:
        auth = api.auth("dana", "register")
        metadata = {"a": [[[1.5, "NaN is just text here", "Infinity too"]]], "b": "\\u0000 as text"}
        for headers in (FAST, ROUTE):
            model = unique()
            body = json.dumps({"artifact_uri": "s3://b/m.pkl", "metadata": metadata})
            response = api.http.post(f"/api/v1/models/{model}/versions", content=body, headers={**auth, **headers})
            assert response.status_code == 201, response.text
            assert response.json()["metadata"] == metadata


class TestOtherDoors:
    def test_a_deep_pattern_a_nan_profile_and_a_nul_in_the_path_are_400s(self, api: Api) -> None:
        admin = api.auth("olga", "admin")
        before = api.counts()
        rule = '{"name": "r", "pattern": {"a": ' + nested(100_000) + '}, "targets": [{"type": "email"}]}'
        deep = api.http.post("/api/v1/rules", content=rule, headers={**admin, **FAST})
        assert deep.status_code == 400 and error_of(deep)["code"] == "invalid_input", deep.text[:300]
        profile = '{"features": {"x": {"kind": "numeric", "mean": NaN}}}'
        nan = api.http.put("/api/v1/models/m/versions/1/reference-profile", content=profile,
                           headers={**admin, **FAST})
        assert nan.status_code == 400 and error_of(nan)["code"] == "invalid_input", nan.text
        for url in ("/api/v1/rules/a%00b", "/api/v1/models/m/versions?cursor=%00",
                    "/api/v1/models/a%00b/environments/dev"):
            nul = api.http.get(url, headers=admin)
            assert nul.status_code == 400 and error_of(nul)["code"] == "invalid_input", (url, nul.text)
        form = api.http.post("/signin", content=b"name=a%00b&password=x&csrf=y",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert form.status_code == 400
        assert api.counts() == before
        assert api.http.get("/healthz").status_code == 200


class TestNumbersTooLargeForAFloat:
    def test_an_overflowing_number_is_refused_like_infinity(self, api: Api) -> None:
        # 1e999 is valid JSON that parses to infinity: refused by the same rule, on both paths.
        auth = api.auth("dana", "register")
        before = api.counts()
        for headers in (FAST, ROUTE):
            for body in ('{"artifact_uri": "s3://b/m.pkl", "metadata": {"a": 1e999}}',
                         '{"artifact_uri": "s3://b/m.pkl", "metrics": {"acc": -1e999}}'):
                response = api.http.post(f"/api/v1/models/{unique()}/versions", content=body,
                                         headers={**auth, **headers})
                assert response.status_code == 400 and error_of(response)["code"] == "invalid_input", response.text
        assert api.counts() == before

    def test_in_a_reference_profile_too(self, api: Api) -> None:
        model = unique()
        api.client("dana").register(model, "s3://b/m.pkl")
        auth = api.auth("dana", "register")
        before = api.counts()
        profile = '{"features": {"x": {"kind": "numeric", "count": 3, "missing": 0, "mean": 1e999}}}'
        response = api.http.put(f"/api/v1/models/{model}/versions/1/reference-profile", content=profile,
                                headers={**auth, **FAST})
        assert response.status_code == 400 and error_of(response)["code"] == "invalid_input", response.text
        assert api.counts() == before
