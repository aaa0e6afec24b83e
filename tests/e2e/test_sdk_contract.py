"""One SDK scenario, two transports: the embedded client and the HTTP client must agree exactly.

Both run on their own fresh database with the same fixed clock, so results (ids, timestamps,
hashes of versions' content) must be equal, and every failure must raise the same class with
the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from signoff import BaseClient, SignoffError
from signoff.bootstrap import Context, bootstrap
from signoff.sdk._embedded import EmbeddedClient
from signoff.services.ports import FixedClock
from tests.conftest import DIGEST, make_settings
from tests.e2e.conftest import Api

Factory = Callable[[str], BaseClient]


def attempt(call: Callable[[], Any]) -> Any:
    try:
        return ("ok", call())
    except SignoffError as exc:
        return ("error", type(exc).__name__, exc.code)


def scenario(client: Factory) -> list[Any]:
    """register → approve → resolve → report → promote, with the usual mistakes along the way."""
    dana, rita, ron, eve, uma = (client(u) for u in ("dana", "rita", "ron", "eve", "uma"))
    steps: list[Any] = []
    add = steps.append
    add(attempt(lambda: dana.register("churn", "s3://b/churn-1.pkl", digest=DIGEST, metrics={"accuracy": 0.91, "f1": 0.8},
                                      metadata={"features": ["a", "b"]}, run_id="run-1", flavor="sklearn")))
    add(attempt(lambda: dana.register("Bad Name", "s3://x", digest=DIGEST)))
    add(attempt(lambda: dana.register("churn", "s3://x", digest=DIGEST, metrics={"acc": "high"})))
    add(attempt(lambda: eve.approve("churn", 1, "dev")))
    add(attempt(lambda: dana.approve("churn", 1, "dev")))
    add(attempt(lambda: rita.resolve("churn", "dev")))
    add(attempt(lambda: rita.approve("churn", 1, "dev", "looks good")))
    add(attempt(lambda: rita.approve("churn", 1, "dev")))
    add(attempt(lambda: eve.resolve("churn", "dev")))
    add(attempt(lambda: eve.resolve("churn", "dev")))  # the HTTP client answers this from its ETag cache
    add(attempt(lambda: eve.resolve("churn", "mars")))
    add(attempt(lambda: eve.resolve("nope", "dev")))
    add(attempt(lambda: dana.request_promotion("churn", 1, "uat")))
    add(attempt(lambda: dana.report_inference("churn", 1, "dev", metrics={"accuracy": 0.93, "f1": 0.81}, rows=500)))
    add(attempt(lambda: dana.report_inference("churn", 1, "prod", metrics={"accuracy": 0.93})))
    add(attempt(lambda: ron.approve("churn", 1, "test", "ok")))
    add(attempt(lambda: dana.request_promotion("churn", 1, "uat", reason="ready")))
    add(attempt(lambda: dana.request_promotion("churn", 1, "uat")))
    add(attempt(lambda: uma.decide(999, "approve")))
    add(attempt(lambda: uma.decide(1, "perhaps")))
    add(attempt(lambda: uma.reject("churn", 1, "uat", "not yet")))
    add(attempt(lambda: dana.register("churn", "s3://b/churn-2.pkl", digest=DIGEST, metrics={"accuracy": 0.95})))
    add(attempt(lambda: eve.versions("churn")))
    add(attempt(lambda: eve.versions("churn", cursor=2, limit=1)))
    add(attempt(lambda: eve.version("churn", 7)))
    add(attempt(lambda: eve.status("churn")))
    add(attempt(lambda: eve.models()))
    add(attempt(lambda: eve.model("churn")))
    add(attempt(lambda: eve.requests(state="open")))
    add(attempt(lambda: eve.requests(model="churn", version=1)))
    add(attempt(lambda: eve.request(1)))
    add(attempt(lambda: eve.parameter("/signoff/models/churn/test")))
    add(attempt(lambda: eve.parameter("/signoff/models/churn/dev", version=1)))
    add(attempt(lambda: eve.parameter("/signoff/models/churn/prod")))
    add(attempt(lambda: eve.parameter_history("/signoff/models/churn/dev")))
    add(attempt(lambda: [_without_tokens(e) for e in eve.audit(model="churn")]))
    add(attempt(lambda: eve.verify_audit()["ok"]))
    add(attempt(lambda: [_event(e) for e in eve.events(type="signoff.version.approved")]))
    for c in (dana, rita, ron, eve, uma):
        c.close()
    return steps


def _without_tokens(entry: dict[str, Any]) -> dict[str, Any]:
    # Hashes chain over token entries (which only the HTTP side has), so compare content only.
    return {k: v for k, v in entry.items() if k not in ("id", "prev_hash", "hash")}


def _event(item: dict[str, Any]) -> dict[str, Any]:
    event = dict(item["event"])
    event.pop("id")
    return {**item, "seq": None, "event": event}


@pytest.fixture
def embedded_ctx(tmp_path: Path, clock: FixedClock) -> Iterator[Context]:
    ctx = bootstrap(make_settings(tmp_path / "embedded"), clock=clock)
    yield ctx
    ctx.close()


@pytest.fixture
def remote_ctx(tmp_path: Path, clock: FixedClock) -> Iterator[Context]:
    ctx = bootstrap(make_settings(tmp_path / "remote"), clock=clock)
    yield ctx
    ctx.close()


class TestEmbeddedAndRemoteClientsAgree:
    def test_the_same_scenario_gives_equal_results_and_equal_errors(self, embedded_ctx: Context,
                                                                    remote_ctx: Context) -> None:
        embedded = scenario(lambda user: EmbeddedClient(actor=user, context=embedded_ctx))
        api = Api(remote_ctx)
        remote = scenario(lambda user: api.client(user))
        assert len(embedded) == len(remote)
        for i, (e, r) in enumerate(zip(embedded, remote, strict=True)):
            assert e == r, f"step {i} differs:\nembedded: {e}\nremote:   {r}"
        kinds = [s[0] if s[0] == "ok" else s[1] for s in embedded]
        for expected in ("InvalidInput", "PermissionDenied", "NotFound", "InvalidTransition", "AlreadyExists"):
            assert expected in kinds, f"the scenario should exercise {expected}"

    def test_the_http_client_revalidates_resolve_with_its_etag(self, api: Api) -> None:
        dana, rita, eve = api.client("dana"), api.client("rita"), api.client("eve", "resolve")
        dana.register("churn", "s3://b/1.pkl", digest=DIGEST)
        rita.approve("churn", 1, "dev")
        first = eve.resolve("churn", "dev")
        assert eve.resolve("churn", "dev") == first
        dana.register("churn", "s3://b/2.pkl", digest=DIGEST)
        rita.approve("churn", 2, "dev")
        assert eve.resolve("churn", "dev")["version"] == 2
        text = api.http.get("/metrics").text
        assert 'route="/api/v1/models/{model}/environments/{env}",status="304"} 1.0' in text
