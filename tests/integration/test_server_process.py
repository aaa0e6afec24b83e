"""A real `signoff server` on a loopback port, driven by the SDK and by the CLI in remote mode."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import DIGEST, unique
from tests.fixtures.signoff_process import SignoffProcess

import signoff
from signoff import AuthenticationFailed, PermissionDenied

pytestmark = pytest.mark.slow

WORKFLOW = ("register", "resolve", "report", "decide")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[SignoffProcess]:
    process = SignoffProcess(tmp_path_factory.mktemp("server"), request).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def tokens(server: SignoffProcess) -> dict[str, str]:
    return {user: server.token(user, *WORKFLOW) for user in ("dana", "rita", "ron", "uma", "eve")}


class TestTheServerProcess:
    def test_it_is_ready_quickly_and_answers_health_metrics_and_openapi(self, server: SignoffProcess) -> None:
        assert server.started_in is not None  # measured by `make bench`; CI machines are shared
        assert httpx.get(server.url + "/healthz").json()["status"] == "ok"
        assert "signoff_http_request_duration_seconds" in httpx.get(server.url + "/metrics").text
        assert "/api/v1/models/{model}/environments/{env}" in httpx.get(server.url + "/openapi.json").json()["paths"]

    def test_the_sdk_drives_register_approve_resolve_report_promote(self, server: SignoffProcess,
                                                                    tokens: dict[str, str]) -> None:
        model = unique("churn")
        dana, rita, ron, uma, eve = (signoff.Client(server.url, tokens[u]) for u in ("dana", "rita", "ron", "uma", "eve"))
        v = dana.register(model, f"s3://b/{model}.pkl", digest=DIGEST, metrics={"accuracy": 0.94}, run_id="run-7")
        assert (v.version, v.registered_by) == (1, "dana")
        with pytest.raises(PermissionDenied) as refused:
            dana.approve(model, 1, "dev")
        assert refused.value.code == "forbidden"
        assert rita.approve(model, 1, "dev", "ok").state == "approved"
        live = eve.resolve(model, "dev")
        assert (live.version, live.approved_by) == (1, ["rita"])
        assert eve.resolve(model, "dev") == live  # revalidated with If-None-Match
        report = dana.report_inference(model, 1, "dev", metrics={"accuracy": 0.93}, rows=100)
        assert report.promotion_request.env == "test"
        assert ron.approve(model, 1, "test").state == "approved"
        request = dana.request_promotion(model, 1, "uat", reason="ready")
        assert request.approvers if "approvers" in request else request.policy["approvers"] == ["uat-approvers"]
        assert uma.approve(model, 1, "uat").state == "approved"
        assert eve.resolve(model, "uat").approved_envs == ["dev", "test", "uat"]
        assert [p.value["version"] for p in eve.parameter_history(f"/signoff/models/{model}/uat")] == [1]
        assert eve.verify_audit().ok is True
        for c in (dana, rita, ron, uma, eve):
            c.close()

    def test_a_wrong_token_is_refused_with_the_same_exception_class(self, server: SignoffProcess) -> None:
        with signoff.Client(server.url, "so_wrong") as c, pytest.raises(AuthenticationFailed):
            c.models()

    def test_a_revoked_token_stops_working(self, server: SignoffProcess) -> None:
        token = server.token("eve", "resolve")
        with signoff.Client(server.url, token) as c:
            c.models()
            listed = json.loads(server.cli("tokens", "list", "--user", "eve", "--json", remote=False).stdout)
            assert server.cli("tokens", "revoke", str(listed[-1]["id"]), remote=False).returncode == 0
            import time

            time.sleep(5.5)  # the server's token cache time (default 5 s)
            with pytest.raises(AuthenticationFailed):
                c.models()


def _normalise(text: str) -> str:
    """Timestamps and request ids differ between two runs; the rest must be identical."""
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+(\+00:00|Z)?", "<time>", text)
    return re.sub(r"request \d+", "request <id>", text)


class TestTheCliInRemoteMode:
    def test_the_workflow_prints_the_same_remote_as_embedded(self, tmp_path: Path) -> None:
        # A server of its own: ids in the output must line up with the embedded database's.
        server = SignoffProcess(tmp_path / "remote").start()
        try:
            tokens = {user: server.token(user, *WORKFLOW) for user in ("dana", "rita", "ron", "eve")}
            self._compare(server, tokens, tmp_path)
        finally:
            server.stop()

    def _compare(self, server: SignoffProcess, tokens: dict[str, str], tmp_path: Path) -> None:
        model = "churn"
        embedded = SignoffProcess(tmp_path / "embedded")  # its own database, never started: embedded CLI
        # Its signing key exists beforehand, as the server's does: the first use would announce its creation.
        assert embedded.cli("keys", "init", remote=False).returncode == 0
        steps = [
            ("dana", ["register", model, "--artifact", f"s3://b/{model}.pkl", "--digest", DIGEST, "--metric", "accuracy=0.95"]),
            ("rita", ["approve", model, "1", "--env", "dev", "--comment", "fine"]),
            ("eve", ["resolve", model, "--env", "dev"]),
            ("dana", ["report", model, "1", "--env", "dev", "--metric", "accuracy=0.93", "--rows", "10"]),
            ("ron", ["approve", model, "1", "--env", "test"]),
            ("dana", ["promote", model, "1", "--env", "uat", "--reason", "ready"]),
            ("eve", ["requests", "--model", model, "--state", "open"]),
            ("eve", ["status", model]),
            ("eve", ["params", "history", f"/signoff/models/{model}/test"]),
            ("eve", ["approve", model, "1", "--env", "uat"]),
            ("eve", ["resolve", model, "--env", "prod"]),
        ]
        for user, args in steps:
            remote = server.cli(*args, token=tokens[user])
            local = embedded.cli(*args, "--as", user, remote=False) if _takes_as(args) else embedded.cli(*args, remote=False)
            assert remote.returncode == local.returncode, (args, remote.stderr, local.stderr)
            assert _normalise(remote.stdout) == _normalise(local.stdout), args
            assert _normalise(remote.stderr) == _normalise(local.stderr), args
        assert server.cli("resolve", model, "--env", "dev", "--json", token=tokens["eve"]).returncode == 0

    def test_users_and_tokens_are_managed_through_the_server(self, server: SignoffProcess) -> None:
        admin = server.token("olga", "admin")
        name = unique("svc").replace("-", "")
        added = server.cli("users", "add", name, "--group", "data-science", token=admin)
        assert added.returncode == 0 and f"added user {name}" in added.stdout
        assert name in server.cli("users", "list", token=admin).stdout
        created = server.cli("tokens", "create", "--user", name, "--scope", "register", token=admin)
        assert created.returncode == 0, created.stderr
        minted = created.stdout.strip()
        with signoff.Client(server.url, minted) as c:
            assert c.register(unique(), "s3://b/x.pkl").registered_by == name
        listed = json.loads(server.cli("tokens", "list", "--user", name, "--json", token=admin).stdout)
        assert server.cli("tokens", "revoke", str(listed[0]["id"]), token=admin).returncode == 0
        with signoff.Client(server.url, minted) as c, pytest.raises(AuthenticationFailed):
            c.models()  # the server that revoked it forgets it at once

    def test_exit_codes_follow_the_error_class(self, server: SignoffProcess, tokens: dict[str, str]) -> None:
        assert server.cli("versions", "no-such-model", token=tokens["eve"]).returncode == 3
        assert server.cli("versions", "no-such-model", token="so_wrong").returncode == 6
        no_scope = server.token("eve", "resolve")
        refused = server.cli("register", unique(), "--artifact", "s3://x", token=no_scope)
        assert refused.returncode == 5 and "register scope" in refused.stderr


def _takes_as(args: list[str]) -> bool:
    return args[0] in ("register", "approve", "reject", "promote", "report")
