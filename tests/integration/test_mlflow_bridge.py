"""The MLflow bridge against a real `mlflow server` (SQLite backend, loopback), driven by the real
`mlflow` client, on SQLite and PostgreSQL (SIGNOFF_TEST_DB), through both intake modes.

One MLflow server serves the whole module (it takes seconds to start); each test has its own
signoff database and its own registered model names. A pyfunc model is logged once and every
test registers versions of it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from signoff.bootstrap import Context, bootstrap
from signoff.domain import mlflow as mf
from signoff.errors import AlreadyExists, AuthenticationFailed, InvalidInput
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import mlflow_bridge
from tests.conftest import make_settings
from tests.fixtures.mlflow_server import MlflowServer, mlflow_executable
from tests.fixtures.servers import WebhookReceiver, free_port, unavailable
from tests.fixtures.web import ServerThread

pytestmark = [
    pytest.mark.slow,
    # MLflow's own notices (pickling, type hints, deprecations of its internals), by module. Not
    # `warnings.catch_warnings()` around the calls: it swaps process-wide state, and the uvicorn
    # thread serving signoff runs FastAPI's own catch_warnings at the same time (it hides
    # pydantic's UnsupportedFieldAttributeWarning that way), so each could undo the other's.
    pytest.mark.filterwarnings("ignore::UserWarning:mlflow.*"),
    pytest.mark.filterwarnings("ignore::FutureWarning:mlflow.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.UnsupportedFieldAttributeWarning"),
]

SECRET_ENV = "SIGNOFF_TEST_MLFLOW_WEBHOOK_SECRET"
SECRET = "whsec-" + uuid.uuid4().hex
MLFLOW_EVENTS = ["model_version.created", "model_version_alias.created", "model_version_alias.deleted",
                 "model_version_tag.set"]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    executable = mlflow_executable()
    if executable is None:
        unavailable("no MLflow server: run `make mlflow-server` (builds .venv-mlflow) or set SIGNOFF_TEST_MLFLOW")
    server = MlflowServer(tmp_path_factory.mktemp("mlflow"), executable).start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="module")
def tracking(mlflow_server: MlflowServer) -> Iterator[Any]:
    """The real client pointed at the server, and one logged pyfunc model to register versions of."""
    import mlflow
    import mlflow.pyfunc

    from mlflow.tracking._tracking_service import utils as tracking_utils

    previous, previous_uri = os.environ.get("MLFLOW_TRACKING_URI"), tracking_utils._tracking_uri
    mlflow.set_tracking_uri(mlflow_server.url)

    class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined,misc]
        def predict(self, context: Any, model_input: list[int], params: Any = None) -> list[int]:
            return [2 * x for x in model_input]

    with mlflow.start_run() as run:
        mlflow.log_metric("accuracy", 0.93)
        mlflow.log_metric("val/loss", 0.2)  # not a signoff metric name: kept aside, not refused
        mlflow.log_param("depth", "3")
        info = mlflow.pyfunc.log_model(name="model", python_model=Doubler())
    tracking = _Tracking(mlflow, mlflow.MlflowClient(mlflow_server.url), info.model_uri, run.info.run_id)
    try:
        yield tracking
    finally:
        mlflow.set_tracking_uri(previous_uri)  # other tests in this process use MLflow locally
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous


class _Tracking:
    def __init__(self, mlflow: Any, client: Any, model_uri: str, run_id: str) -> None:
        self.mlflow, self.client, self.model_uri, self.run_id = mlflow, client, model_uri, run_id

    def register(self, name: str) -> int:
        return int(self.mlflow.register_model(self.model_uri, name).version)

    def alias_becomes(self, name: str, alias: str, version: int | None) -> None:
        """The bridge works after the commit (and, with webhooks, after MLflow's delivery)."""
        _eventually(lambda: self.alias(name, alias) == version, what=f"{name}@{alias} -> {version}")

    def alias(self, name: str, alias: str) -> int | None:
        model = self.client.get_registered_model(name)
        version = model.aliases.get(alias)
        return int(version) if version is not None else None


def _eventually(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.1)


def _bridge_settings(tmp_path: Path, mlflow_server: MlflowServer, prefix: str, **mlflow: Any) -> Any:
    conf = {"tracking_uri": mlflow_server.url, "models": [f"{prefix}-*"], "webhook_secret_env": SECRET_ENV,
            **mlflow}
    return make_settings(tmp_path, mlflow=conf)


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return SECRET


class Stack:
    """signoff over its own database, bridged to the module's MLflow server; with `webhooks`, a
    uvicorn server MLflow delivers to."""

    def __init__(self, tmp_path: Path, mlflow_server: MlflowServer, tracking: _Tracking, *, webhooks: bool,
                 **mlflow: Any) -> None:
        self.prefix = ("wh" if webhooks else "sync") + "-" + uuid.uuid4().hex[:8]
        self.name = f"{self.prefix}-churn"
        self.tracking = tracking
        self.ctx: Context = bootstrap(_bridge_settings(tmp_path, mlflow_server, self.prefix, **mlflow),
                                      migrate_schema=True)
        self.bridge = mlflow_bridge_of(self.ctx)
        self.server: ServerThread | None = None
        self.webhook_id: str | None = None
        if webhooks:
            from signoff.entrypoints.api import create_app

            self.server = ServerThread(create_app(self.ctx), free_port()).start()
            hook = tracking.client.create_webhook(name=f"signoff-{self.prefix}", url=self.webhook_url,
                                                  events=MLFLOW_EVENTS, secret=SECRET)
            self.webhook_id = hook.webhook_id
        self.webhooks = webhooks

    @property
    def webhook_url(self) -> str:
        assert self.server is not None
        return f"{self.server.url}/api/v1/mlflow/webhooks"

    def as_user(self, name: str) -> EmbeddedClient:
        return EmbeddedClient(actor=name, context=self.ctx)

    def intake(self) -> None:
        """What the mode does on its own after a change in MLflow: a webhook, or the next poll."""
        if not self.webhooks:
            self.bridge.sync()

    def versions(self) -> list[int]:
        return [v["version"] for v in self.as_user("dana").versions(self.name)] if self._has_model() else []

    def _has_model(self) -> bool:
        with self.ctx.uow() as uow:
            return uow.models.find(self.name) is not None

    def open_request(self, version: int, env: str) -> Any:
        if not self._has_model():
            return None
        requests = self.as_user("rita").requests(state="open", model=self.name, env=env)
        return next((r for r in requests if r["version"] == version), None)

    def wait_for_request(self, version: int, env: str = "dev") -> Any:
        self.intake()
        return _eventually(lambda: self.open_request(version, env), what=f"open request for v{version} in {env}")

    def audit(self, action: str) -> list[Any]:
        return [e for e in self.as_user("rita").audit(model=self.name, limit=500) if e["action"] == action]

    def close(self) -> None:
        if self.webhook_id is not None:
            self.tracking.client.delete_webhook(self.webhook_id)
        if self.server is not None:
            self.server.stop()
        self.bridge.rest.close()
        self.ctx.close()


def mlflow_bridge_of(ctx: Context) -> mlflow_bridge.Bridge:
    from signoff.bootstrap import mlflow_bridge as build

    return build(ctx)  # type: ignore[no-any-return]


@pytest.fixture(params=["webhook", "sync"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, mlflow_server: MlflowServer, tracking: _Tracking,
          secret_env: str) -> Iterator[Stack]:
    s = Stack(tmp_path, mlflow_server, tracking, webhooks=request.param == "webhook")
    try:
        yield s
    finally:
        s.close()


class TestMlflowScenario:
    def test_a_registered_version_is_approved_then_served_by_alias_guarded_and_rolled_back(
            self, stack: Stack) -> None:
        mlflow, client = stack.tracking.mlflow, stack.tracking.client
        v1 = stack.tracking.register(stack.name)

        request = stack.wait_for_request(1)
        version = stack.as_user("rita").version(stack.name, 1)
        meta = version["metadata"]["mlflow"]
        assert (meta["model"], meta["version"], meta["run_id"]) == (stack.name, v1, stack.tracking.run_id)
        assert version["lineage"]["run_id"] == stack.tracking.run_id
        assert version["metrics"] == {"accuracy": 0.93}
        assert meta["skipped_metrics"] == ["val/loss"]
        assert version["metadata"]["params"] == {"depth": "3"}
        assert version["digest"] and version["digest"].startswith("sha256:")
        assert version["flavor"] == "mlflow"
        assert meta["model_version_url"].endswith(f"/#/models/{stack.name}/versions/{v1}")
        assert stack.tracking.alias(stack.name, "dev") is None  # nothing moves before sign-off

        stack.as_user("rita").decide(request["id"], "approve", "looks good")
        stack.tracking.alias_becomes(stack.name, "dev", v1)
        assert client.get_model_version_by_alias(stack.name, "dev").version == str(v1)
        tags = client.get_model_version(stack.name, str(v1)).tags
        assert tags["signoff.dev"] == "approved"
        assert tags["signoff.dev.approved_by"] == "rita"
        assert tags["signoff.dev.request_id"] == str(request["id"])
        loaded = mlflow.pyfunc.load_model(f"models:/{stack.name}@dev")
        assert list(loaded.predict([1, 2])) == [2, 4]

        # Someone with MLflow rights points prod at a version signoff never approved there.
        client.set_registered_model_alias(stack.name, "prod", str(v1))
        stack.intake()
        stack.tracking.alias_becomes(stack.name, "prod", None)
        reverted = _eventually(lambda: stack.audit("mlflow.alias_reverted"), what="audit entry")
        assert reverted[0]["after"]["moved_to"] == v1
        assert reverted[0]["after"]["restored"] is None
        assert reverted[0]["after"]["observed_via"] == ("webhook" if stack.webhooks else "sync")
        announced = stack.as_user("rita").events(type=mf.ALIAS_REVERTED)
        assert [e["event"]["data"]["env"] for e in announced] == ["prod"]

        # A second version goes live in dev; rolling dev back moves the alias back to the first.
        v2 = stack.tracking.register(stack.name)
        second = stack.wait_for_request(2)
        stack.as_user("ron").decide(second["id"], "approve")
        stack.tracking.alias_becomes(stack.name, "dev", v2)
        stack.as_user("rita").rollback(stack.name, "dev", reason="v2 misbehaves in dev")
        stack.tracking.alias_becomes(stack.name, "dev", v1)
        stack.intake()  # one more look (sync): signoff's own tags and aliases are left alone
        assert client.get_model_version(stack.name, str(v2)).tags["signoff.dev"] == "approved"
        assert not stack.audit("mlflow.tag_reverted")
        assert len(stack.audit("mlflow.alias_reverted")) == 1
        assert stack.as_user("rita").verify_audit()["ok"] is True
        dead = stack.as_user("rita").deliveries(state="dead")
        assert not dead, [(d["rule"], d["event_type"], d["last_error"]) for d in dead]

    def test_an_alias_moved_to_an_unapproved_version_goes_back_to_the_live_one(
            self, stack: Stack, webhook_receiver: WebhookReceiver) -> None:
        client = stack.tracking.client
        stack.as_user("rita").add_rule("alias-tampering", {"type": [mf.ALIAS_REVERTED]},
                                       [{"type": "webhook", "url": webhook_receiver.url}])
        stack.tracking.register(stack.name)
        first = stack.wait_for_request(1)
        stack.as_user("rita").decide(first["id"], "approve")
        stack.tracking.alias_becomes(stack.name, "dev", 1)
        v2 = stack.tracking.register(stack.name)
        stack.wait_for_request(2)

        client.set_registered_model_alias(stack.name, "dev", str(v2))
        stack.intake()
        stack.tracking.alias_becomes(stack.name, "dev", 1)
        [entry] = _eventually(lambda: stack.audit("mlflow.alias_reverted"), what="audit entry")
        assert (entry["after"]["moved_to"], entry["after"]["restored"]) == (v2, 1)
        assert entry["after"]["moved_to_stage"] == "PendingManualApproval"
        [routed] = webhook_receiver.wait_for(1, timeout=30)  # a rule can route the announcement
        assert json.loads(routed.body)["data"]["moved_to"] == v2

        client.delete_registered_model_alias(stack.name, "dev")
        stack.intake()
        stack.tracking.alias_becomes(stack.name, "dev", 1)

        # A forged approval tag on the unapproved version is removed again.
        client.set_model_version_tag(stack.name, str(v2), "signoff.prod", "approved")
        stack.intake()
        _eventually(lambda: "signoff.prod" not in client.get_model_version(stack.name, str(v2)).tags,
                    what="forged tag removed")
        [forged] = _eventually(lambda: stack.audit("mlflow.tag_reverted"), what="tag audit entry")
        assert (forged["after"]["key"], forged["after"]["value"], forged["after"]["restored"]) == (
            "signoff.prod", "approved", None)


class TestEveryWayOfGoingLive:
    def test_break_glass_sets_the_alias_and_revocations_fall_back_or_remove_it(
            self, tmp_path: Path, mlflow_server: MlflowServer, tracking: _Tracking, secret_env: str) -> None:
        stack = Stack(tmp_path, mlflow_server, tracking, webhooks=False, aliases={"prod": "champion"})
        try:
            for number in (1, 2):
                tracking.register(stack.name)
                stack.as_user("rita").decide(stack.wait_for_request(number)["id"], "approve")
            tracking.alias_becomes(stack.name, "dev", 2)

            stack.as_user("erin").break_glass(stack.name, 1, "prod", justification="hotfix for the outage")
            tracking.alias_becomes(stack.name, "champion", 1)
            assert tracking.alias(stack.name, "prod") is None  # prod's alias is "champion" here
            assert tracking.client.get_model_version(stack.name, "1").tags["signoff.prod.approved_by"] == "erin"

            stack.as_user("rita").revoke(stack.name, 2, "dev", reason="leaks customer ids")
            tracking.alias_becomes(stack.name, "dev", 1)
            assert tracking.client.get_model_version(stack.name, "2").tags["signoff.dev"] == "revoked"
            stack.as_user("rita").revoke(stack.name, 1, "dev", reason="same defect, found later")
            tracking.alias_becomes(stack.name, "dev", None)
            assert not stack.audit("mlflow.alias_reverted")  # signoff's own moves are not reversals
        finally:
            stack.close()


class TestOutputRetries:
    def test_an_unreachable_mlflow_is_retried_dead_lettered_and_replayed(
            self, tmp_path: Path, mlflow_server: MlflowServer, tracking: _Tracking, secret_env: str) -> None:
        good = Stack(tmp_path / "good", mlflow_server, tracking, webhooks=False)
        try:
            tracking.register(good.name)
            request = good.wait_for_request(1)
            # The same database, but this process sees MLflow at a closed port.
            dead_port = free_port()
            settings = _bridge_settings(tmp_path / "good", mlflow_server, good.prefix)
            settings.mlflow.tracking_uri = f"http://127.0.0.1:{dead_port}"
            settings.events.max_attempts = 1
            settings.database_url = good.ctx.settings.database_url
            cut_off = bootstrap(settings, migrate_schema=True)
            try:
                EmbeddedClient(actor="rita", context=cut_off).decide(request["id"], "approve")
                [dead] = [d for d in good.as_user("rita").deliveries(state="dead") if d["target_type"] == "mlflow"]
                assert "unreachable" in dead["last_error"]
                assert tracking.alias(good.name, "dev") is None
            finally:
                cut_off.close()
            good.as_user("rita").replay_delivery(dead["id"])
            good.ctx.inline_dispatcher().drain()
            assert tracking.alias(good.name, "dev") == 1
            assert good.as_user("rita").delivery(dead["id"])["state"] == "succeeded"
        finally:
            good.close()


def _captured(receiver: WebhookReceiver, tracking: _Tracking, name: str, secret: str) -> list[Any]:
    """Real deliveries: a webhook of the MLflow server pointed at a recording receiver."""
    hook = tracking.client.create_webhook(name=f"capture-{uuid.uuid4().hex[:6]}", url=receiver.url,
                                          events=MLFLOW_EVENTS, secret=secret)
    try:
        version = tracking.register(name)
        tracking.client.set_model_version_tag(name, str(version), "team", "churn")
        return receiver.wait_for(2, timeout=30)
    finally:
        tracking.client.delete_webhook(hook.webhook_id)


class TestWebhookSignatures:
    """Captured from the real server's deliveries, then sent to signoff's endpoint as MLflow sent them."""

    @pytest.fixture
    def endpoint(self, tmp_path: Path, mlflow_server: MlflowServer, tracking: _Tracking,
                 secret_env: str) -> Iterator[Stack]:
        s = Stack(tmp_path, mlflow_server, tracking, webhooks=True)
        s.tracking.client.delete_webhook(s.webhook_id)  # only the captured deliveries reach it
        s.webhook_id = None
        try:
            yield s
        finally:
            s.close()

    def _post(self, stack: Stack, request: Any) -> httpx.Response:
        headers = {k: request.headers[k] for k in ("x-mlflow-signature", "x-mlflow-timestamp",
                                                    "x-mlflow-delivery-id", "content-type")}
        return httpx.post(stack.webhook_url, content=request.body, headers=headers, timeout=10)

    def _outbox(self, stack: Stack) -> int:
        return len(stack.as_user("rita").events(limit=500))

    def test_a_valid_delivery_is_queued_and_its_replay_refused(self, endpoint: Stack,
                                                               webhook_receiver: WebhookReceiver) -> None:
        created, tagged = _captured(webhook_receiver, endpoint.tracking, endpoint.name, SECRET)
        assert created.headers["x-mlflow-signature"].startswith("v1,")
        assert json.loads(created.body)["entity"] == "model_version"
        first = self._post(endpoint, created)
        assert first.status_code == 202, first.text
        assert first.json()["queued"] is True
        _eventually(lambda: endpoint.open_request(1, "dev"), what="request opened from the captured delivery")
        before = self._outbox(endpoint)
        again = self._post(endpoint, created)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "already_exists"
        assert self._outbox(endpoint) == before
        assert self._post(endpoint, tagged).status_code == 202

    def test_a_delivery_signed_with_another_secret_is_refused(self, endpoint: Stack,
                                                              webhook_receiver: WebhookReceiver) -> None:
        created, _ = _captured(webhook_receiver, endpoint.tracking, endpoint.name, "not-the-secret")
        before = self._outbox(endpoint)
        response = self._post(endpoint, created)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"
        assert self._outbox(endpoint) == before
        # The refusal used nothing up: the same delivery id, signed with the right secret, passes.
        delivery_id, stamp = created.headers["x-mlflow-delivery-id"], created.headers["x-mlflow-timestamp"]
        resigned = httpx.post(endpoint.webhook_url, content=created.body, timeout=10, headers={
            "x-mlflow-delivery-id": delivery_id, "x-mlflow-timestamp": stamp,
            "x-mlflow-signature": mf.sign(SECRET, delivery_id, stamp, created.body)})
        assert resigned.status_code == 202, resigned.text

    def test_a_stale_delivery_is_refused_and_a_fresh_one_accepted(self, endpoint: Stack,
                                                                 webhook_receiver: WebhookReceiver) -> None:
        created, _ = _captured(webhook_receiver, endpoint.tracking, endpoint.name, SECRET)
        stamp = int(created.headers["x-mlflow-timestamp"])
        conf = endpoint.ctx.settings.mlflow
        headers = dict(created.headers.items())
        with pytest.raises(InvalidInput) as stale:
            mlflow_bridge.accept_webhook(uow=endpoint.ctx.uow_without_dispatch(), settings=conf, secret=SECRET, headers=headers,
                                         body=created.body, now=stamp + conf.webhook_max_age + 1)
        assert stale.value.details["header"] == mf.TIMESTAMP_HEADER
        with pytest.raises(AuthenticationFailed):
            mlflow_bridge.accept_webhook(uow=endpoint.ctx.uow_without_dispatch(), settings=conf, secret=SECRET,
                                         headers=headers, body=created.body.replace(b'"1"', b'"7"'), now=stamp)
        accepted = mlflow_bridge.accept_webhook(uow=endpoint.ctx.uow_without_dispatch(), settings=conf, secret=SECRET,
                                                headers=headers, body=created.body, now=stamp + 5)
        assert accepted["queued"] is True
        with pytest.raises(AlreadyExists):
            mlflow_bridge.accept_webhook(uow=endpoint.ctx.uow_without_dispatch(), settings=conf, secret=SECRET,
                                         headers=headers, body=created.body, now=stamp + 5)


class TestLinks:
    def test_the_board_version_page_and_the_approvers_email_link_to_the_mlflow_run_and_version(
            self, tmp_path: Path, mlflow_server: MlflowServer, tracking: _Tracking, secret_env: str) -> None:
        from signoff.bootstrap import mail_composer
        from signoff.domain import events
        from signoff.entrypoints.api import create_app
        from tests.fixtures.web import Visitor, set_passwords

        stack = Stack(tmp_path, mlflow_server, tracking, webhooks=False)
        server = ServerThread(create_app(stack.ctx), free_port()).start()
        visitor = Visitor(server.url)
        try:
            tracking.register(stack.name)
            stack.wait_for_request(1)
            meta = stack.as_user("rita").version(stack.name, 1)["metadata"]["mlflow"]
            run_url, version_url = meta["run_url"], meta["model_version_url"]
            assert run_url == f"{mlflow_server.url}/#/experiments/0/runs/{tracking.run_id}"
            set_passwords(stack.ctx)
            visitor.sign_in("rita")
            for page in (f"/models/{stack.name}", f"/models/{stack.name}/versions/1"):
                html = visitor.get(page).text
                assert f'href="{run_url}"' in html and f'href="{version_url}"' in html, page
            [requested] = stack.as_user("rita").events(type=events.APPROVAL_REQUESTED)
            messages, _ = mail_composer(stack.ctx).compose(event=requested["event"], key="k", to=["rita@example.com"],
                                                           rule="default-email-approvers")
            assert run_url in messages[0].text and version_url in messages[0].text
            assert f'href="{run_url}"' in (messages[0].html or "")
        finally:
            visitor.http.close()
            server.stop()
            stack.close()


class TestSyncCommand:
    def test_signoff_mlflow_sync_takes_versions_in_and_says_so_in_one_line(
            self, tmp_path: Path, mlflow_server: MlflowServer, tracking: _Tracking) -> None:
        import subprocess

        from tests.conftest import database_url_for
        from tests.fixtures.signoff_process import CLI, write_config

        prefix = "cli-" + uuid.uuid4().hex[:8]
        config = write_config(tmp_path / "signoff.toml")
        with config.open("a") as f:
            f.write(f'[mlflow]\ntracking_uri = "{mlflow_server.url}"\nmodels = ["{prefix}-*"]\n')
        env = {**os.environ, "SIGNOFF_CONFIG": str(config), "SIGNOFF_HOME": str(tmp_path / ".signoff"),
               "SIGNOFF_DATABASE_URL": database_url_for(tmp_path / "signoff.db")}
        env.pop("SIGNOFF_URL", None)
        tracking.register(f"{prefix}-churn")
        done = subprocess.run([*CLI, "mlflow", "sync"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines() == [
            f"1 governed model(s); taken in: {prefix}-churn v1; aliases reverted: none"]
        again = subprocess.run([*CLI, "mlflow", "sync", "--json"], env=env, capture_output=True, text=True,
                               timeout=120)
        assert json.loads(again.stdout)["taken_in"] == []

        env["SIGNOFF_MLFLOW__TRACKING_URI"] = f"http://127.0.0.1:{free_port()}"
        down = subprocess.run([*CLI, "mlflow", "sync"], env=env, capture_output=True, text=True, timeout=120)
        assert down.returncode == 7
        assert len(down.stderr.strip().splitlines()) == 1 and "unreachable" in down.stderr

        tracking.register(f"{prefix}-churn")
        watcher = subprocess.Popen([*CLI, "mlflow", "sync", "--watch", "--interval", "0.5"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # An outage does not stop --watch: it says so and tries again; SIGTERM ends it cleanly.
            assert watcher.stderr is not None
            first = watcher.stderr.readline()  # blocks until the first pass has failed
            assert first.startswith("warning: MLflow at") and "retrying" in first, first
            env_ok = {k: v for k, v in env.items() if k != "SIGNOFF_MLFLOW__TRACKING_URI"}
            watcher.send_signal(15)
            out, err = watcher.communicate(timeout=60)
            assert watcher.returncode == 0, err
        finally:
            if watcher.poll() is None:
                watcher.kill()
        watched = subprocess.Popen([*CLI, "mlflow", "sync", "--watch", "--interval", "0.5"], env=env_ok,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            settings = make_settings(tmp_path, database_url=env["SIGNOFF_DATABASE_URL"])
            reader = bootstrap(settings)
            try:
                _eventually(lambda: EmbeddedClient(actor="rita", context=reader).versions(f"{prefix}-churn")[0]
                            ["version"] == 2, timeout=60, what="version 2 taken in by --watch")
            finally:
                reader.close()
            watched.send_signal(15)
            out, err = watched.communicate(timeout=60)
            assert watched.returncode == 0, err
            assert f"taken in: {prefix}-churn v2" in out
        finally:
            if watched.poll() is None:
                watched.kill()
        env.pop("SIGNOFF_MLFLOW__TRACKING_URI")
        bare = write_config(tmp_path / "bare.toml")
        env["SIGNOFF_CONFIG"] = str(bare)
        refused = subprocess.run([*CLI, "mlflow", "sync"], env=env, capture_output=True, text=True, timeout=120)
        assert refused.returncode == 2 and "[mlflow]" in refused.stderr


class TestWebhookEndpointWithoutBridge:
    def test_without_mlflow_config_404_and_without_a_secret_503_nothing_written(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from fastapi.testclient import TestClient

        from signoff.entrypoints.api import create_app

        monkeypatch.delenv(SECRET_ENV, raising=False)
        for mlflow, status, code in [(None, 404, "not_found"),
                                     ({"tracking_uri": "http://127.0.0.1:9", "webhook_secret_env": SECRET_ENV},
                                      503, "unavailable")]:
            settings = make_settings(tmp_path / str(status), **({"mlflow": mlflow} if mlflow else {}))
            ctx = bootstrap(settings, migrate_schema=True)
            try:
                # Starting up writes events of its own (the configured people are created); the
                # refused webhook must add none.
                rita = EmbeddedClient(actor="rita", context=ctx)
                before = [e["seq"] for e in rita.events(limit=1000)]
                with TestClient(create_app(ctx)) as http:
                    response = http.post("/api/v1/mlflow/webhooks", content=b"{}", headers={
                        "x-mlflow-signature": "v1,AAAA", "x-mlflow-timestamp": str(int(time.time())),
                        "x-mlflow-delivery-id": "d-1"})
                assert response.status_code == status
                assert response.json()["error"]["code"] == code
                assert [e["seq"] for e in rita.events(limit=1000)] == before
            finally:
                ctx.close()
