"""Every endpoint through the in-process app: status codes, bodies, pagination, errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import DIGEST, unique
from tests.e2e.conftest import Api, error_of

V1 = "/api/v1"


def register(api: Api, model: str, user: str = "dana", **body: Any) -> dict[str, Any]:
    r = api.http.post(f"{V1}/models/{model}/versions", json={"artifact_uri": f"s3://b/{model}.pkl", "digest": DIGEST, **body},
                      headers=api.auth(user))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def open_request(api: Api, model: str, env: str, version: int = 1) -> int:
    r = api.http.get(f"{V1}/approval-requests", params={"model": model, "env": env, "state": "open"},
                     headers=api.auth("rita"))
    (item,) = r.json()["items"]
    assert item["version"] == version
    return int(item["id"])


def approve(api: Api, request_id: int, user: str = "rita") -> dict[str, Any]:
    r = api.http.post(f"{V1}/approval-requests/{request_id}/decisions", json={"decision": "approve"},
                      headers=api.auth(user))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.fixture
def live_in_dev(api: Api) -> str:
    model = unique("churn")
    register(api, model, metrics={"accuracy": 0.95})
    approve(api, open_request(api, model, "dev"))
    return model


class TestModelsAndVersions:
    def test_a_registered_version_reads_back_the_same_everywhere(self, api: Api) -> None:
        model = unique()
        created = register(api, model, metrics={"accuracy": 0.91}, metadata={"k": [1, 2]}, run_id="r1", flavor="sklearn")
        assert created["version"] == 1 and created["registered_by"] == "dana"
        assert created["stages"] == {env: "PendingManualApproval" for env in ("dev", "test", "uat", "prod")}
        h = api.auth("eve", "resolve")
        # The registration rule opened the dev request after the answer was written: only that differs.
        assert created["board"]["dev"] == "not_requested" and created["request_states"]["dev"] is None
        read = api.http.get(f"{V1}/models/{model}/versions/1", headers=h).json()
        assert (read["board"]["dev"], read["request_states"]["dev"]) == ("waiting_for_approval", "open")
        created.update(board=read["board"], request_states=read["request_states"])
        assert read == created
        assert api.http.get(f"{V1}/models/{model}/versions", headers=h).json() == {"items": [created], "next_cursor": None}
        assert api.http.get(f"{V1}/models/{model}", headers=h).json()["latest_version"] == 1

    def test_models_can_be_created_before_their_first_version_and_only_once(self, api: Api) -> None:
        model = unique()
        body = {"name": model, "description": "churn model", "tags": {"team": "ds"}}
        r = api.http.post(f"{V1}/models", json=body, headers=api.auth("dana", "register"))
        assert r.status_code == 201 and r.json()["tags"] == {"team": "ds"}
        again = api.http.post(f"{V1}/models", json=body, headers=api.auth("dana", "register"))
        assert again.status_code == 409 and error_of(again)["code"] == "already_exists"

    def test_lists_are_pages_with_a_cursor_and_a_maximum_size(self, api: Api) -> None:
        model = unique()
        for _ in range(5):
            register(api, model)
        h = api.auth("rita")
        first = api.http.get(f"{V1}/models/{model}/versions", params={"limit": 2}, headers=h).json()
        assert [v["version"] for v in first["items"]] == [5, 4] and first["next_cursor"] == "4"
        second = api.http.get(f"{V1}/models/{model}/versions", params={"limit": 2, "cursor": "4"}, headers=h).json()
        assert [v["version"] for v in second["items"]] == [3, 2]
        last = api.http.get(f"{V1}/models/{model}/versions", params={"limit": 2, "cursor": "2"}, headers=h).json()
        assert [v["version"] for v in last["items"]] == [1] and last["next_cursor"] is None
        too_big = api.http.get(f"{V1}/models/{model}/versions", params={"limit": 501}, headers=h)
        assert too_big.status_code == 422 and error_of(too_big)["code"] == "invalid_input"
        bad_cursor = api.http.get(f"{V1}/models/{model}/versions", params={"cursor": "x"}, headers=h)
        assert bad_cursor.status_code == 422 and error_of(bad_cursor)["code"] == "invalid_input"

    def test_unknown_models_and_versions_are_404_with_the_error_body(self, api: Api) -> None:
        h = api.auth("rita")
        for path in ("/models/nope", "/models/nope/versions", "/models/nope/versions/1",
                     "/models/nope/environments/dev", "/approval-requests/999999"):
            r = api.http.get(V1 + path, headers=h)
            assert r.status_code == 404, path
            assert error_of(r)["code"] == "not_found"

    def test_bad_input_is_4xx_never_5xx(self, api: Api) -> None:
        h = api.auth("dana")
        cases = [
            ("/models/Bad Name/versions", {"artifact_uri": "s3://x"}, 422),
            (f"/models/{unique()}/versions", {"artifact_uri": "s3://x", "metrics": {"acc": "high"}}, 422),
            (f"/models/{unique()}/versions", {"artifact_uri": "s3://x", "metrics": {"9bad": 1}}, 422),
            (f"/models/{unique()}/versions", {"artifact_uri": "s3://x", "metrics": {"acc": 1}, "digest": "x" * 81}, 422),
            (f"/models/{unique()}/versions", {"artifact_uri": ""}, 422),
            (f"/models/{unique()}/versions", {"artifact_uri": "s3://x", "surprise": 1}, 422),
            ("/models", {"name": 3}, 422),
        ]
        for path, body, status in cases:
            r = api.http.post(V1 + path, json=body, headers=h)
            assert r.status_code == status, (path, body, r.text)
            assert error_of(r)["code"] == "invalid_input"
        broken = api.http.post(f"{V1}/models", content=b"{not json", headers={**h, "Content-Type": "application/json"})
        assert broken.status_code == 400 and error_of(broken)["code"] == "invalid_input"
        huge_version = api.http.get(f"{V1}/models/x/versions/99999999999999999999", headers=h)
        assert huge_version.status_code == 422

    def test_ids_and_cursors_past_a_32_bit_column_are_answered_not_a_database_error(self, api: Api) -> None:
        # PostgreSQL refuses to compare an INTEGER column with 2**31; SQLite's integers are 64-bit.
        model, h = unique(), api.auth("olga", "admin")
        register(api, model)
        for path in ("/approval-requests/2147483648", "/tokens/2147483648"):
            r = api.http.request("DELETE" if "tokens" in path else "GET", V1 + path, headers=h)
            assert r.status_code == 422 and error_of(r)["code"] == "invalid_input", (path, r.text)
        after_all = {"cursor": "99999999999"}
        versions = api.http.get(f"{V1}/models/{model}/versions", params=after_all, headers=h)
        assert [v["version"] for v in versions.json()["items"]] == [1]  # newest first: "before" the cursor
        for path in ("/approval-requests", f"/parameters/signoff/models/{model}/dev/history", "/audit", "/events"):
            r = api.http.get(V1 + path, params=after_all, headers=h)
            assert r.status_code == 200 and r.json()["items"] == [], (path, r.text)

    def test_unknown_or_repeated_query_parameters_are_refused(self, api: Api) -> None:
        h = api.auth("rita")
        typo = api.http.get(f"{V1}/approval-requests", params={"stat": "open"}, headers=h)
        assert typo.status_code == 400 and error_of(typo)["details"] == {"unknown": ["stat"]}
        twice = api.http.get(f"{V1}/events?type=a&type=b", headers=h)
        assert twice.status_code == 400 and error_of(twice)["details"] == {"repeated": ["type"]}

    def test_a_body_over_the_size_limit_is_413(self, api: Api) -> None:
        limit = api.ctx.settings.server.max_body_bytes
        r = api.http.post(f"{V1}/models", content=b"x" * (limit + 1), headers=api.auth("dana"))
        assert r.status_code == 413 and error_of(r)["code"] == "payload_too_large"
        chunks = (b"x" * 65536 for _ in range(limit // 65536 + 2))  # no Content-Length: counted as it arrives
        chunked = api.http.post(f"{V1}/models", content=chunks, headers=api.auth("dana"))
        assert chunked.status_code == 413 and error_of(chunked)["code"] == "payload_too_large"


class TestResolve:
    def test_resolve_names_the_live_version_with_its_approvals(self, api: Api, live_in_dev: str) -> None:
        r = api.http.get(f"{V1}/models/{live_in_dev}/environments/dev", headers=api.auth("eve", "resolve"))
        assert r.status_code == 200
        live = r.json()
        assert (live["version"], live["approved_by"], live["approved_envs"]) == (1, ["rita"], ["dev"])
        assert live["artifact_uri"] == f"s3://b/{live_in_dev}.pkl"

    def test_an_unchanged_answer_is_304_until_a_new_version_goes_live(self, api: Api, live_in_dev: str) -> None:
        h = api.auth("eve", "resolve")
        url = f"{V1}/models/{live_in_dev}/environments/dev"
        etag = api.http.get(url, headers=h).headers["etag"]
        not_modified = api.http.get(url, headers={**h, "If-None-Match": etag})
        assert not_modified.status_code == 304 and not_modified.content == b""
        assert not_modified.headers["etag"] == etag
        register(api, live_in_dev)
        approve(api, open_request(api, live_in_dev, "dev", version=2))
        changed = api.http.get(url, headers={**h, "If-None-Match": etag})
        assert changed.status_code == 200 and changed.json()["version"] == 2 and changed.headers["etag"] != etag

    def test_nothing_live_is_404_and_an_unknown_environment_too(self, api: Api, live_in_dev: str) -> None:
        h = api.auth("eve", "resolve")
        assert error_of(api.http.get(f"{V1}/models/{live_in_dev}/environments/prod", headers=h))["code"] == "not_found"
        assert api.http.get(f"{V1}/models/{live_in_dev}/environments/mars", headers=h).status_code == 404


class TestWorkflowEndpoints:
    def test_report_then_promotion_then_decision(self, api: Api, live_in_dev: str) -> None:
        r = api.http.post(f"{V1}/models/{live_in_dev}/versions/1/inference-reports",
                          json={"env": "dev", "metrics": {"accuracy": 0.93}, "rows": 1000,
                                "started_at": "2026-11-25T10:00:00+00:00", "finished_at": "2026-11-25T10:05:00Z"},
                          headers=api.auth("dana", "report"))
        assert r.status_code == 201, r.text
        report = r.json()
        assert report["next_env"] == "test" and report["promotion_request"]["env"] == "test"
        assert report["promotion_request"]["gate_results"][0]["passed"] is True
        decided = approve(api, report["promotion_request"]["id"], user="ron")
        assert decided["state"] == "approved" and decided["decisions"][0]["actor"] == "ron"
        promoted = api.http.post(f"{V1}/models/{live_in_dev}/versions/1/promotions", json={"env": "uat", "reason": "go"},
                                 headers=api.auth("dana", "register"))
        assert promoted.status_code == 201 and promoted.json()["kind"] == "promotion"
        one = api.http.get(f"{V1}/approval-requests/{promoted.json()['id']}", headers=api.auth("uma"))
        assert one.json()["reason"] == "go" and one.json()["state"] == "open"

    def test_promotion_out_of_order_is_409(self, api: Api) -> None:
        model = unique()
        register(api, model)
        r = api.http.post(f"{V1}/models/{model}/versions/1/promotions", json={"env": "prod"}, headers=api.auth("dana"))
        assert r.status_code == 409 and error_of(r)["code"] == "invalid_transition"

    def test_a_report_with_naive_times_is_refused(self, api: Api, live_in_dev: str) -> None:
        r = api.http.post(f"{V1}/models/{live_in_dev}/versions/1/inference-reports",
                          json={"env": "dev", "metrics": {}, "started_at": "2026-11-25T10:00:00"},
                          headers=api.auth("dana"))
        assert r.status_code == 422

    def test_an_unknown_decision_is_422(self, api: Api, live_in_dev: str) -> None:
        r = api.http.post(f"{V1}/approval-requests/1/decisions", json={"decision": "maybe"}, headers=api.auth("rita"))
        assert r.status_code == 422 and error_of(r)["code"] == "invalid_input"

    def test_requests_filter_by_state_and_page(self, api: Api, live_in_dev: str) -> None:
        h = api.auth("rita")
        approved = api.http.get(f"{V1}/approval-requests", params={"state": "approved", "model": live_in_dev}, headers=h)
        assert [r["env"] for r in approved.json()["items"]] == ["dev"]
        bad = api.http.get(f"{V1}/approval-requests", params={"state": "sleepy"}, headers=h)
        assert bad.status_code == 422


class TestRecords:
    def test_parameters_read_by_path_with_history(self, api: Api, live_in_dev: str) -> None:
        h = api.auth("eve", "resolve")
        name = f"/signoff/models/{live_in_dev}/dev"
        latest = api.http.get(f"{V1}/parameters{name}", headers=h).json()
        assert latest["name"] == name and latest["value"]["version"] == 1
        assert api.http.get(f"{V1}/parameters{name}", params={"version": 1}, headers=h).json() == latest
        history = api.http.get(f"{V1}/parameters{name}/history", headers=h).json()
        assert history == {"items": [latest], "next_cursor": None}
        assert api.http.get(f"{V1}/parameters/signoff/nothing", headers=h).status_code == 404

    def test_audit_pages_by_cursor_and_filters_by_model_and_time(self, api: Api, live_in_dev: str) -> None:
        h = api.auth("rita")
        entries = api.http.get(f"{V1}/audit", params={"model": live_in_dev}, headers=h).json()["items"]
        assert {"version.registered", "approval.approved"} <= {e["action"] for e in entries}
        page = api.http.get(f"{V1}/audit", params={"limit": 1}, headers=h).json()
        after = api.http.get(f"{V1}/audit", params={"limit": 1, "cursor": page["next_cursor"]}, headers=h).json()
        assert after["items"][0]["id"] > page["items"][0]["id"]
        future = api.http.get(f"{V1}/audit", params={"since": "2099-01-01T00:00:00Z"}, headers=h).json()
        assert future["items"] == []
        assert api.http.get(f"{V1}/audit/verify", headers=h).json()["ok"] is True

    def test_events_are_cloudevents_filtered_by_type(self, api: Api, live_in_dev: str) -> None:
        r = api.http.get(f"{V1}/events", params={"type": "signoff.version.approved"}, headers=api.auth("rita"))
        (item,) = [e for e in r.json()["items"] if e["event"]["data"]["model"] == live_in_dev]
        assert item["event"]["specversion"] == "1.0" and item["event"]["subject"].startswith(f"models/{live_in_dev}/")


class TestOperations:
    def test_health_and_readiness_need_no_credentials(self, api: Api) -> None:
        assert api.http.get("/healthz").json()["status"] == "ok"
        assert api.http.get("/readyz").json()["status"] == "ok"

    def test_metrics_count_requests_by_route_template(self, api: Api, live_in_dev: str) -> None:
        api.http.get(f"{V1}/models/{live_in_dev}/environments/dev", headers=api.auth("eve", "resolve"))
        text = api.http.get("/metrics").text
        assert 'route="/api/v1/models/{model}/environments/{env}",status="200"' in text
        assert "signoff_versions 1.0" in text and "signoff_open_requests" in text

    def test_unknown_paths_and_methods_answer_with_the_error_body(self, api: Api) -> None:
        assert error_of(api.http.get("/api/v1/nothing"))["code"] == "not_found"
        r = api.http.delete(f"{V1}/models")
        assert r.status_code == 405 and error_of(r)["code"] == "method_not_allowed"

    def test_openapi_documents_every_contract_path_and_the_error_model(self, api: Api) -> None:
        schema = api.http.get("/openapi.json").json()
        for path in ("/api/v1/models", "/api/v1/models/{model}", "/api/v1/models/{model}/versions",
                     "/api/v1/models/{model}/versions/{version}", "/api/v1/models/{model}/environments/{env}",
                     "/api/v1/models/{model}/versions/{version}/promotions",
                     "/api/v1/models/{model}/versions/{version}/inference-reports",
                     "/api/v1/approval-requests", "/api/v1/approval-requests/{request_id}",
                     "/api/v1/approval-requests/{request_id}/decisions", "/api/v1/parameters/{name}",
                     "/api/v1/parameters/{name}/history", "/api/v1/audit", "/api/v1/events"):
            assert path in schema["paths"], path
        assert "ErrorBody" in schema["components"]["schemas"]
        assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


class TestAdministration:
    def test_an_admin_adds_users_and_mints_lists_and_revokes_tokens(self, api: Api) -> None:
        h = api.auth("olga", "admin")
        added = api.http.post(f"{V1}/users", json={"name": "nina", "groups": ["ml-reviewers"], "password": "pw"},
                              headers=h)
        assert added.status_code == 201 and added.json()["groups"] == ["ml-reviewers"]
        assert "password" not in added.text and "nina" in [u["name"] for u in api.http.get(f"{V1}/users", headers=h).json()["items"]]
        created = api.http.post(f"{V1}/tokens", json={"user": "nina", "scopes": ["decide"], "expires_in_seconds": 3600},
                                headers=h)
        assert created.status_code == 201
        token = created.json()["token"]
        assert api.http.get(f"{V1}/models", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        listed = api.http.get(f"{V1}/tokens", params={"user": "nina"}, headers=h).json()["items"]
        assert [t["id"] for t in listed] == [created.json()["id"]] and "token" not in listed[0]
        revoked = api.http.delete(f"{V1}/tokens/{created.json()['id']}", headers=h)
        assert revoked.json()["revoked_at"] is not None
        # This server forgets its cached verdicts on revocation: refused at once.
        assert api.http.get(f"{V1}/models", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    def test_administration_needs_the_admin_scope(self, api: Api) -> None:
        h = api.auth("olga", "register", "resolve", "report", "decide")
        before = api.counts()
        for method, path, body in [("GET", "/users", None), ("POST", "/users", {"name": "x"}),
                                   ("GET", "/tokens", None), ("POST", "/tokens", {"user": "olga", "scopes": ["admin"]}),
                                   ("DELETE", "/tokens/1", None)]:
            r = api.http.request(method, V1 + path, json=body, headers=h)
            assert r.status_code == 403 and error_of(r)["code"] == "forbidden", path
        assert api.counts() == before
