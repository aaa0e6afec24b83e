"""The registration fast path answers exactly as the FastAPI route does, errors included.

`Content-Type: application/json` takes the hot route (routes/versions.py `hot_route`, declared
ahead of the FastAPI route); the same request with `; charset=utf-8` is not one it matches and
goes through FastAPI's dependencies and response model. Each case is sent both ways and must come back with
the same status, headers that matter and body, and write the same.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from signoff.bootstrap import Context
from starlette.routing import Match

from signoff.entrypoints.api.hot_routes import HotRoute
from signoff.entrypoints.api.routes.versions import REGISTER_PATH
from signoff.services import tokens
from tests.conftest import DIGEST, unique
from tests.e2e.conftest import Api, error_of

FAST, ROUTED = "application/json", "application/json; charset=utf-8"


@pytest.fixture(autouse=True, params=["inline-dispatch", "deferred-events"])
def events(request: pytest.FixtureRequest, ctx: Context) -> str:
    """Both ways a server runs: dispatching inline (registrations run on the thread pool),
    or leaving events to a worker (registrations go to the group-commit writer)."""
    ctx.dispatch_inline = request.param == "inline-dispatch"
    return str(request.param)


def scope(method: str = "POST", path: str = "/api/v1/models/churn/versions", query: bytes = b"",
          content_type: bytes | None = FAST.encode()) -> dict[str, Any]:
    headers = [(b"content-type", content_type)] if content_type is not None else []
    return {"type": "http", "method": method, "path": path, "query_string": query, "headers": headers}


def test_only_plain_json_registrations_take_the_fast_path(api: Api) -> None:
    hot = next(r for r in api.app.router.routes if isinstance(r, HotRoute) and r.path == REGISTER_PATH)
    assert api.app.router.routes.index(hot) < 2  # ahead of every other route

    def fast_register_target(scope: dict[str, Any]) -> str | None:
        match, child = hot.matches(scope)
        return child["path_params"]["model"] if match is Match.FULL else None

    assert fast_register_target(scope()) == "churn"
    assert fast_register_target(scope(path="/api/v1/models/a.b-c_1/versions")) == "a.b-c_1"
    for declined in (scope(content_type=ROUTED.encode()), scope(content_type=None),
                     scope(content_type=b"text/plain"), scope(query=b"x=1"), scope(method="PUT"),
                     scope(path="/api/v1/models/churn/versions/"), scope(path="/api/v1/models/churn/versions/1"),
                     scope(path="/api/v1/models/Bad Name/versions"), scope(path="/api/v1/models/churn\n/versions"),
                     scope(path="/api/v1/models//versions"), scope(path="/api/v1/models/churn/environments")):
        assert fast_register_target(declined) is None, declined


def both_ways(api: Api, body: bytes, headers: dict[str, str], model: str | None = None
              ) -> tuple[httpx.Response, httpx.Response]:
    """The same registration through the fast path and through the route, each for its own model."""
    answers = []
    for content_type in (FAST, ROUTED):
        name = model or unique("fast")
        r = api.http.post(f"/api/v1/models/{name}/versions", content=body,
                          headers={**headers, "Content-Type": content_type})
        answers.append((r, name))
    (fast, fast_model), (routed, routed_model) = answers
    assert fast.status_code == routed.status_code, (fast.text, routed.text)
    assert fast.headers["content-type"] == routed.headers["content-type"]
    assert fast.headers.get("www-authenticate") == routed.headers.get("www-authenticate")
    assert fast.content.replace(fast_model.encode(), b"M") == routed.content.replace(routed_model.encode(), b"M")
    return fast, routed


def test_a_registration_answers_byte_for_byte_as_the_route_does(api: Api) -> None:
    body = {"artifact_uri": "s3://b/m.pkl", "metrics": {"accuracy": 0.91, "rows": 3}, "metadata": {"k": [1, "x"]},
            "run_id": "r1", "code_commit": "abc", "dataset_hash": "d1", "flavor": "sklearn", "digest": DIGEST,
            "description": "first", "owner_group": "data-science"}
    fast, _ = both_ways(api, json.dumps(body).encode(), api.auth("dana", "register"))
    assert fast.status_code == 201
    writer = api.app.state.registration_writer
    if writer is not None:  # deferred events: both registrations went through it
        assert writer.submitted == 2
    created = fast.json()
    assert created["version"] == 1 and created["metrics"] == {"accuracy": 0.91, "rows": 3.0}
    h = api.auth("eve", "resolve")
    read = api.http.get(f"/api/v1/models/{created['model']}/versions/1", headers=h).json()
    # The first request is opened after the registration commits (by its rule): only that differs.
    assert created["board"]["dev"] == "not_requested" and read["board"]["dev"] in ("not_requested", "waiting_for_approval")
    assert without_requests(read) == without_requests(created)


def without_requests(version: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in version.items() if k not in ("board", "request_states")}


def test_errors_are_the_routes_errors_and_write_nothing(api: Api) -> None:
    ok = json.dumps({"artifact_uri": "s3://b/m.pkl"}).encode()
    revoked_token, info = tokens.create_token(uow=api.ctx.uow(), user="dana", scopes=["register"], actor="test")
    tokens.revoke_token(uow=api.ctx.uow(), token_id=info["id"], actor="test")
    cases: list[tuple[bytes, dict[str, str], int, str]] = [
        (ok, {}, 401, "unauthenticated"),
        (ok, {"Authorization": "Bearer so_nonsense"}, 401, "unauthenticated"),
        (ok, {"Authorization": f"Bearer {revoked_token}"}, 401, "unauthenticated"),
        (ok, api.auth("dana", "resolve"), 403, "forbidden"),
        (ok, {**api.auth("dana", "register"), "X-Signoff-As": "rita"}, 403, "forbidden"),
        (b"{not json", api.auth("dana", "register"), 400, "invalid_input"),
        (b"[1, 2]", api.auth("dana", "register"), 422, "invalid_input"),
        (json.dumps({"artifact_uri": "s3://x", "metrics": {"acc": "high"}}).encode(), api.auth("dana"), 422,
         "invalid_input"),
        (json.dumps({"artifact_uri": "s3://x", "surprise": 1}).encode(), api.auth("dana"), 422, "invalid_input"),
        (json.dumps({"artifact_uri": ""}).encode(), api.auth("dana"), 422, "invalid_input"),
        # Valid for the body model, refused by the registry inside the transaction (a SignoffError).
        (b'{"artifact_uri": "s3://x", "metrics": {"acc": NaN}}', api.auth("dana"), 400, "invalid_input"),
    ]
    before = api.counts()
    for body, headers, status, code in cases:
        fast, _ = both_ways(api, body, headers)
        assert fast.status_code == status, (body, headers, fast.text)
        assert error_of(fast)["code"] == code
    assert api.counts() == before


def test_registrations_of_one_model_number_on_from_either_path(api: Api) -> None:
    model, h = unique("fast"), api.auth("dana", "register")
    numbers = []
    for content_type in (FAST, ROUTED, FAST):
        r = api.http.post(f"/api/v1/models/{model}/versions", json={"artifact_uri": "s3://b/x", "digest": DIGEST},
                          headers={**h, "Content-Type": content_type})
        assert r.status_code == 201, r.text
        numbers.append(r.json()["version"])
    assert numbers == [1, 2, 3]


@pytest.mark.parametrize("content_type", [FAST, ROUTED])
def test_metrics_count_registrations_under_the_route_template(api: Api, content_type: str) -> None:
    api.http.post(f"/api/v1/models/{unique('fast')}/versions", json={"artifact_uri": "s3://b/x", "digest": DIGEST},
                  headers={**api.auth("dana", "register"), "Content-Type": content_type})
    text = api.http.get("/metrics").text
    assert 'method="POST",route="/api/v1/models/{model}/versions",status="201"' in text


def test_every_registration_takes_the_same_writer(api: Api, events: str) -> None:
    """With events left to a worker, registrations share commits however they are sent (with a
    charset or without, by the hot route or FastAPI's): one writer, on either database."""
    model, h = unique("writer"), api.auth("dana", "register")
    for content_type in (FAST, ROUTED, "Application/JSON"):
        r = api.http.post(f"/api/v1/models/{model}/versions", json={"artifact_uri": "s3://b/x", "digest": DIGEST},
                          headers={**h, "Content-Type": content_type})
        assert r.status_code == 201, r.text
    writer = getattr(api.app.state, "registration_writer", None)
    if events == "inline-dispatch":  # a request waits for its events' rules: no sharing of commits
        assert writer is None or writer.submitted == 0
    else:
        assert writer is not None and writer.submitted == 3


PROFILE = {"rows": 3, "features": {"x": {"kind": "categorical", "count": 3, "missing": 0, "counts": {"a": 2, "b": 1}}}}


@pytest.mark.parametrize("content_type", [FAST, ROUTED])
def test_a_reference_profile_commits_with_its_registration_on_every_path(api: Api, content_type: str) -> None:
    """The batched writer and the thread pool alike: the profile and its audit entry are written with
    the version, and a bad profile refuses the registration whole."""
    h = {**api.auth("dana", "register"), "Content-Type": content_type}
    before = api.counts()
    bad = api.http.post(f"/api/v1/models/{unique('ref')}/versions", headers=h, json={
        "artifact_uri": "s3://b/x", "digest": DIGEST, "reference_profile": {"features": {"x": {"kind": "image"}}}})
    assert bad.status_code == 400 and error_of(bad)["code"] == "invalid_input", bad.text
    assert api.counts() == before
    model = unique("ref")
    ok = api.http.post(f"/api/v1/models/{model}/versions", headers=h,
                       json={"artifact_uri": "s3://b/x", "digest": DIGEST, "reference_profile": PROFILE})
    assert ok.status_code == 201, ok.text
    read = api.auth("eve", "resolve")
    assert api.http.get(f"/api/v1/models/{model}/versions/1/reference-profile", headers=read).json() == PROFILE
    actions = [e["action"] for e in api.http.get("/api/v1/audit", params={"model": model}, headers=read).json()["items"]]
    assert actions[:3] == ["model.created", "version.registered", "reference.set"], actions
