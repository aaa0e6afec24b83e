"""Who may do what over HTTP: 401 without valid credentials, 403 without scope or membership.

Every refusal carries the JSON error body and writes nothing (no audit entry, no event).
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from signoff.bootstrap import bootstrap
from signoff.services import accounts, tokens
from signoff.services.ports import FixedClock
from tests.conftest import make_settings, unique
from tests.e2e.conftest import Api, error_of
from tests.e2e.test_api_endpoints import V1, open_request, register

ENDPOINTS = [
    ("GET", "/models", None),
    ("POST", "/models", {"name": "x"}),
    ("GET", "/models/x", None),
    ("GET", "/models/x/versions", None),
    ("POST", "/models/x/versions", {"artifact_uri": "s3://x"}),
    ("GET", "/models/x/versions/1", None),
    ("GET", "/models/x/environments/dev", None),
    ("POST", "/models/x/versions/1/promotions", {"env": "test"}),
    ("POST", "/models/x/versions/1/inference-reports", {"env": "dev", "metrics": {}}),
    ("GET", "/approval-requests", None),
    ("GET", "/approval-requests/1", None),
    ("POST", "/approval-requests/1/decisions", {"decision": "approve"}),
    ("GET", "/parameters/signoff/models/x/dev", None),
    ("GET", "/parameters/signoff/models/x/dev/history", None),
    ("GET", "/audit", None),
    ("GET", "/audit/verify", None),
    ("GET", "/events", None),
]


def assert_refused(api: Api, response: object, status: int, code: str, before: tuple[int, int]) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert error_of(response)["code"] == code  # type: ignore[arg-type]
    assert api.counts() == before, "a refused request wrote to the audit log or the outbox"


class TestCredentials:
    @pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
    def test_every_endpoint_is_401_without_credentials(self, api: Api, method: str, path: str, body: object) -> None:
        before = api.counts()
        r = api.http.request(method, V1 + path, json=body)
        assert_refused(api, r, 401, "unauthenticated", before)
        assert r.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize("header", ["Bearer so_not-a-real-token", "Basic ZGFuYTpwdw==", "Bearer ", "token"])
    def test_a_bad_or_malformed_token_is_401(self, api: Api, header: str) -> None:
        before = api.counts()
        r = api.http.post(f"{V1}/models/{unique()}/versions", json={"artifact_uri": "s3://x"},
                          headers={"Authorization": header})
        assert_refused(api, r, 401, "unauthenticated", before)

    def test_an_expired_token_is_401(self, api: Api, clock: FixedClock) -> None:
        token = api.token("dana", expires_in=timedelta(hours=1))
        h = {"Authorization": f"Bearer {token}"}
        assert api.http.get(f"{V1}/models", headers=h).status_code == 200
        clock.advance(hours=2)
        before = api.counts()
        r = api.http.post(f"{V1}/models/{unique()}/versions", json={"artifact_uri": "s3://x"}, headers=h)
        assert_refused(api, r, 401, "unauthenticated", before)
        assert "expired" in error_of(r)["message"]

    def test_a_revoked_token_is_refused_within_the_cache_time(self, tmp_path: Path, clock: FixedClock) -> None:
        ctx = bootstrap(make_settings(tmp_path, server={"token_cache_seconds": 0.3}), clock=clock)
        try:
            api = Api(ctx)
            token, info = tokens.create_token(uow=ctx.uow(), user="dana", scopes=["register"], actor="test")
            h = {"Authorization": f"Bearer {token}"}
            assert api.http.get(f"{V1}/models", headers=h).status_code == 200
            tokens.revoke_token(uow=ctx.uow(), token_id=info["id"], actor="test")
            time.sleep(0.35)
            before = api.counts()
            r = api.http.post(f"{V1}/models/{unique()}/versions", json={"artifact_uri": "s3://x"}, headers=h)
            assert_refused(api, r, 401, "unauthenticated", before)
            assert "revoked" in error_of(r)["message"]
        finally:
            ctx.close()

    def test_last_use_is_recorded_on_the_token(self, api: Api) -> None:
        token = api.token("rita", "resolve")
        api.http.get(f"{V1}/models", headers={"Authorization": f"Bearer {token}"})
        (info,) = [t for t in tokens.list_tokens(uow=api.ctx.uow(), user="rita")]
        assert info["last_used_at"] is not None and "token" not in info


class TestScopes:
    @pytest.mark.parametrize(("method", "path", "body", "scope"), [
        ("POST", "/models", {"name": "x"}, "resolve"),
        ("POST", "/models/x/versions", {"artifact_uri": "s3://x"}, "resolve"),
        ("POST", "/models/x/versions/1/promotions", {"env": "test"}, "resolve"),
        ("POST", "/models/x/versions/1/inference-reports", {"env": "dev", "metrics": {}}, "register"),
        ("POST", "/approval-requests/1/decisions", {"decision": "approve"}, "register"),
        ("GET", "/models/x/environments/dev", None, "register"),
        ("GET", "/parameters/signoff/models/x/dev", None, "decide"),
    ])
    def test_a_token_without_the_scope_is_403(self, api: Api, method: str, path: str, body: object,
                                              scope: str) -> None:
        h = api.auth("dana", scope)
        before = api.counts()
        assert_refused(api, api.http.request(method, V1 + path, json=body, headers=h), 403, "forbidden", before)

    def test_admin_scope_allows_everything(self, api: Api) -> None:
        r = api.http.post(f"{V1}/models/{unique()}/versions", json={"artifact_uri": "s3://x"},
                          headers=api.auth("dana", "admin"))
        assert r.status_code == 201

    def test_a_token_cannot_act_as_another_user(self, api: Api) -> None:
        h = {**api.auth("dana", "admin"), "X-Signoff-As": "rita"}
        before = api.counts()
        r = api.http.post(f"{V1}/models/{unique()}/versions", json={"artifact_uri": "s3://x"}, headers=h)
        assert_refused(api, r, 403, "forbidden", before)


class TestDeciding:
    def test_a_non_member_with_the_decide_scope_is_403(self, api: Api) -> None:
        model = unique()
        register(api, model)
        request_id = open_request(api, model, "dev")
        h = api.auth("eve", "decide")
        before = api.counts()
        r = api.http.post(f"{V1}/approval-requests/{request_id}/decisions", json={"decision": "approve"}, headers=h)
        assert_refused(api, r, 403, "forbidden", before)

    def test_the_registrant_may_not_approve_their_own_version(self, api: Api) -> None:
        model = unique()
        register(api, model, user="dana")
        request_id = open_request(api, model, "dev")
        h = api.auth("dana", "decide")
        before = api.counts()
        r = api.http.post(f"{V1}/approval-requests/{request_id}/decisions", json={"decision": "approve"}, headers=h)
        assert_refused(api, r, 403, "forbidden", before)

    def test_membership_is_checked_when_deciding_not_when_the_token_was_made(self, api: Api) -> None:
        model = unique()
        register(api, model)
        request_id = open_request(api, model, "dev")
        h = api.auth("ron", "decide")
        accounts.set_groups(uow=api.ctx.uow(), name="ron", groups=["visitors"], actor="test")
        before = api.counts()
        r = api.http.post(f"{V1}/approval-requests/{request_id}/decisions", json={"decision": "approve"}, headers=h)
        assert_refused(api, r, 403, "forbidden", before)


class TestAnonymousResolve:
    def test_anonymous_resolve_only_when_configured_and_nothing_else(self, tmp_path: Path, clock: FixedClock) -> None:
        ctx = bootstrap(make_settings(tmp_path, server={"anonymous_resolve": True}), clock=clock)
        try:
            api = Api(ctx)
            model = unique()
            register(api, model)
            api.http.post(f"{V1}/approval-requests/{open_request(api, model, 'dev')}/decisions",
                          json={"decision": "approve"}, headers=api.auth("rita"))
            assert api.http.get(f"{V1}/models/{model}/environments/dev").json()["version"] == 1
            assert api.http.get(f"{V1}/models/{model}/versions").status_code == 401
            security = api.http.get("/openapi.json").json()["paths"]["/api/v1/models/{model}/environments/{env}"]
            assert {} in security["get"]["security"]
        finally:
            ctx.close()

    def test_resolve_without_credentials_is_401_by_default(self, api: Api) -> None:
        assert error_of(api.http.get(f"{V1}/models/x/environments/dev"))["code"] == "unauthenticated"
