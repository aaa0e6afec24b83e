"""One SDK scenario, two transports: the embedded client and the HTTP client must agree exactly.

Both run on their own fresh database with the same fixed clock, so results (ids, timestamps,
hashes of versions' content) must be equal, and every failure must raise the same class with
the same code.
"""

from __future__ import annotations

import abc
import base64
import inspect
import json
import typing
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

# Every method a scenario calls directly, on either transport (see Recorded).
CALLED: set[str] = set()


def _declared_return(name: str) -> Any:
    from signoff.sdk._resolved import Resolved

    return typing.get_type_hints(getattr(BaseClient, name), localns={"Resolved": Resolved}).get("return")


def _check_type(name: str, value: Any) -> None:
    """The result is what BaseClient declares (a typed model, a list of them, a Record), on either transport."""
    declared = _declared_return(name)
    if declared is None or declared is Any:
        return
    if typing.get_origin(declared) is list:
        (item,) = typing.get_args(declared)
        assert isinstance(value, list) and all(isinstance(v, item) for v in value), (name, declared, value)
    else:
        assert isinstance(value, declared), (name, declared, type(value))


class Recorded:
    """A client whose method calls are noted in CALLED, so the suite can tell which part of the
    BaseClient contract the scenarios left untried, and whose results are checked against the
    types BaseClient declares."""

    def __init__(self, inner: BaseClient) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value
        CALLED.add(name)
        if name not in BaseClient.__abstractmethods__:
            return value

        def checked(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            _check_type(name, result)
            return result

        return checked


def attempt(call: Callable[[], Any]) -> Any:
    try:
        return ("ok", call())
    except SignoffError as exc:
        return ("error", type(exc).__name__, exc.code)


def scenario(client: Factory) -> list[Any]:
    """register → approve → resolve → report → promote, with the usual mistakes along the way."""
    dana, rita, ron, eve, uma = (Recorded(client(u)) for u in ("dana", "rita", "ron", "eve", "uma"))
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
    add(attempt(lambda: eve.open_request("churn", 1, "uat")))
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
    add(attempt(lambda: eve.public_keys()))
    add(attempt(lambda: eve.attestations("churn", 1)))
    add(attempt(lambda: eve.attestations("churn", 1, env="uat")))
    add(attempt(lambda: eve.attestations("churn", 7)))
    add(attempt(lambda: eve.attestation("churn", 1, "dev")))
    add(attempt(lambda: eve.attestation("churn", 1, "prod")))
    add(attempt(lambda: _evidence(eve.evidence("churn", 1))))
    add(attempt(lambda: eve.evidence("nope", 1)))
    add(attempt(lambda: eve.revocations()))
    for c in (dana, rita, ron, eve, uma):
        c.close()
    return steps


PROFILE = {"rows": 3, "features": {"x": {"kind": "categorical", "count": 3, "missing": 0, "counts": {"a": 2, "b": 1}}}}


def operations(client: Factory, admin: Factory, hook_url: str) -> list[Any]:
    """After approval, the event bus and administration: lifecycle, references, rules, deliveries,
    users and tokens, with their refusals."""
    dana, rita, erin, eve = (Recorded(client(u)) for u in ("dana", "rita", "erin", "eve"))
    olga = Recorded(admin("olga"))
    steps: list[Any] = []
    add = steps.append
    for n in (1, 2):
        add(attempt(lambda: dana.register("fraud", f"s3://b/fraud-{n}.pkl", metrics={"accuracy": 0.9})))
        add(attempt(lambda: rita.approve("fraud", n, "dev")))
    add(attempt(lambda: dana.set_reference("fraud", 2, PROFILE)))
    add(attempt(lambda: eve.set_reference("fraud", 2, PROFILE)))
    add(attempt(lambda: dana.set_reference("fraud", 9, PROFILE)))
    add(attempt(lambda: eve.rollback("fraud", "dev")))
    add(attempt(lambda: rita.rollback("fraud", "dev", reason="slow")))
    add(attempt(lambda: rita.revoke("fraud", 1, "dev", reason="leak")))
    add(attempt(lambda: dana.break_glass("fraud", 2, "test", justification="INC-1 needs the fix now")))
    add(attempt(lambda: erin.break_glass("fraud", 2, "test", justification="INC-1 needs the fix now")))
    add(attempt(lambda: olga.rules()))
    add(attempt(lambda: olga.rule("no-such-rule")))
    add(attempt(lambda: olga.add_rule("hook", {"type": ["signoff.version.registered"]},
                                      [{"type": "webhook", "url": hook_url, "timeout": 5}], description="d")))
    add(attempt(lambda: olga.add_rule("hook", {"type": ["x"]}, [{"type": "webhook", "url": hook_url}])))
    add(attempt(lambda: olga.add_rule("bad", {"type": "not-a-list"}, [{"type": "webhook", "url": hook_url}])))
    add(attempt(lambda: olga.set_rule_enabled("hook", False)))
    add(attempt(lambda: olga.set_rule_enabled("hook", True)))
    add(attempt(lambda: olga.set_rule_enabled("nope", True)))
    add(attempt(lambda: olga.rule("hook")))
    add(attempt(lambda: olga.test_pattern({"type": ["a"]}, {"type": "a"})))
    add(attempt(lambda: dana.register("fraud", "s3://b/fraud-3.pkl")))  # the hook answers 500: a dead letter
    add(attempt(lambda: [_delivery(d) for d in olga.deliveries(rule="hook")]))
    dead = olga.deliveries(state="dead", rule="hook")
    add(attempt(lambda: _delivery(olga.delivery(dead[0]["id"]))))
    add(attempt(lambda: olga.delivery(10**9)))
    add(attempt(lambda: _delivery(olga.replay_delivery(dead[0]["id"]))))
    add(attempt(lambda: olga.replay_delivery(10**9)))
    add(attempt(lambda: [_delivery(d) for d in olga.deliveries(state="succeeded", rule="hook")]))
    add(attempt(lambda: olga.add_user("newbie", groups=["visitors"], email="n@example.com", password="pw-1")))
    add(attempt(lambda: olga.add_user("newbie")))
    add(attempt(lambda: olga.add_user("Bad Name")))
    add(attempt(lambda: sorted(u["name"] for u in olga.users())))
    created = olga.create_token("newbie", ["resolve"], name="ci")
    add(("ok", _token(created), created["token"].startswith("so_")))
    add(attempt(lambda: olga.create_token("nobody", ["resolve"])))
    add(attempt(lambda: olga.create_token("newbie", ["fly"])))
    add(attempt(lambda: [_token(t) for t in olga.tokens(user="newbie")]))
    add(attempt(lambda: _token(olga.revoke_token(created["id"]))))
    add(attempt(lambda: olga.revoke_token(10**6)))
    add(attempt(lambda: olga.user("newbie")))
    add(attempt(lambda: olga.user("nobody")))
    add(attempt(lambda: olga.set_user_groups("newbie", ["visitors", "ml-reviewers"])))
    add(attempt(lambda: olga.set_user_groups("newbie", ["Bad Group"])))
    add(attempt(lambda: olga.set_user_password("newbie", "a-much-longer-password")))
    add(attempt(lambda: olga.set_user_password("nobody", "a-much-longer-password")))
    add(attempt(lambda: olga.disable_user("newbie", reason="left the team")))
    add(attempt(lambda: olga.disable_user("olga")))
    add(attempt(lambda: olga.enable_user("newbie")))
    key = olga.create_aws_key("newbie", scopes=["resolve"], name="boto3")
    add(("ok", _token(key), key["access_key_id"].startswith("AKIA"), len(key["secret_access_key"])))
    add(attempt(lambda: olga.create_aws_key("nobody")))
    add(attempt(lambda: [_token(k) for k in olga.aws_keys(user="newbie")]))
    add(attempt(lambda: _token(olga.revoke_aws_key(key["access_key_id"]))))
    add(attempt(lambda: olga.revoke_aws_key(10**6)))
    add(attempt(lambda: olga.delete_user("newbie")))
    add(attempt(lambda: olga.delete_user("newbie")))
    add(attempt(lambda: _checkpoint(olga.audit_checkpoint())))
    for c in (dana, rita, erin, eve, olga):
        c.close()
    return steps


def _delivery(item: dict[str, Any]) -> dict[str, Any]:
    keep = ("rule", "target_index", "target_type", "target", "state", "attempts", "replays", "last_status_code",
            "event_type")
    return {k: item[k] for k in keep} | {"attempt_log": [a["outcome"] for a in item.get("attempt_log", [])]}


def _token(item: dict[str, Any]) -> dict[str, Any]:
    # Tokens and AWS keys: random secrets and ids that differ from run to run.
    return {k: v for k, v in item.items()
            if k not in ("id", "prefix", "token", "last_used_at", "access_key_id", "secret_access_key")}


def _without_tokens(entry: dict[str, Any]) -> dict[str, Any]:
    # Hashes chain over token entries (which only the HTTP side has), so compare content only.
    return {k: v for k, v in entry.items() if k not in ("id", "prev_hash", "hash")}


def _checkpoint(envelope: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint without its place in the chain (count, head id and hash: the HTTP side's chain
    also holds its token entries); the signing key and the rest of the payload must agree."""
    payload = json.loads(base64.b64decode(envelope["payload"]))
    head_hash, count, head_id = payload.pop("head_hash"), payload.pop("count"), payload.pop("head_id")
    assert len(head_hash) == 64 and count > 0 and head_id > 0, (head_hash, count, head_id)
    return {"payloadType": envelope["payloadType"], "payload": payload,
            "keyids": [s["keyid"] for s in envelope["signatures"]]}


def _evidence(pack: dict[str, Any]) -> dict[str, Any]:
    audit = pack["audit"]
    verification = {k: v for k, v in audit["verification"].items() if k != "checked"}
    return {**pack, "audit": {**audit, "entries": [_without_tokens(e) for e in audit["entries"]],
                              "verification": verification,
                              "checkpoint": _checkpoint(audit["checkpoint"]) if audit["checkpoint"] else None}}


def _event(item: dict[str, Any]) -> dict[str, Any]:
    event = dict(item["event"])
    event.pop("id")
    return {**item, "seq": None, "event": event}


def _shared_key(tmp_path: Path, clock: FixedClock) -> dict[str, Any]:
    # One signing key for both sides, so key ids, attestations and signatures must come out equal too.
    from signoff.adapters.keys import write_new

    path = tmp_path / "signing-key.json"
    if not path.exists():
        write_new(path, clock.now())
    return {"key_file": path}


@pytest.fixture
def embedded_ctx(tmp_path: Path, clock: FixedClock) -> Iterator[Context]:
    ctx = bootstrap(make_settings(tmp_path / "embedded", signing=_shared_key(tmp_path, clock)), clock=clock)
    yield ctx
    ctx.close()


@pytest.fixture
def remote_ctx(tmp_path: Path, clock: FixedClock) -> Iterator[Context]:
    ctx = bootstrap(make_settings(tmp_path / "remote", signing=_shared_key(tmp_path, clock)), clock=clock)
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

    def test_the_operations_after_approval_agree_too(self, tmp_path: Path, clock: FixedClock,
                                                     webhook_receiver: Any) -> None:
        def run(name: str, factory: Callable[[Context], tuple[Factory, Factory]]) -> list[Any]:
            settings = make_settings(tmp_path / name, events={"max_attempts": 1}, signing=_shared_key(tmp_path, clock))
            ctx = bootstrap(settings, clock=clock)
            try:
                webhook_receiver.respond_with([500])
                client, admin = factory(ctx)
                return operations(client, admin, webhook_receiver.url)
            finally:
                ctx.close()

        def embedded(ctx: Context) -> tuple[Factory, Factory]:
            return (lambda u: EmbeddedClient(actor=u, context=ctx)), (lambda u: EmbeddedClient(actor=u, context=ctx))

        def remote(ctx: Context) -> tuple[Factory, Factory]:
            api = Api(ctx)
            return (lambda u: api.client(u)), (lambda u: api.client(u, "admin"))

        first, second = run("embedded", embedded), run("remote", remote)
        for i, (e, r) in enumerate(zip(first, second, strict=True)):
            assert e == r, f"step {i} differs:\nembedded: {e}\nremote:   {r}"
        kinds = {s[1] for s in first if s[0] == "error"}
        assert {"PermissionDenied", "NotFound", "AlreadyExists", "InvalidInput", "PatternInvalid"} <= kinds, kinds

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


class TestTheContractIsComplete:
    def test_every_abstract_method_of_base_client_is_run_through_both_transports(self) -> None:
        """A method added to BaseClient without a step in a scenario above fails here. (Runs after
        the scenarios: pytest keeps the file's order.)"""
        assert CALLED, "the scenarios did not run first"
        untried = sorted(set(BaseClient.__abstractmethods__) - CALLED - {"close"})
        assert not untried, f"BaseClient methods no contract scenario calls: {untried}"

    def test_both_transports_implement_every_abstract_method(self) -> None:
        from signoff.sdk._remote import RemoteClient

        for cls in (EmbeddedClient, RemoteClient):
            assert not cls.__abstractmethods__, (cls, cls.__abstractmethods__)
            for name in BaseClient.__abstractmethods__:
                assert getattr(cls, name) is not getattr(BaseClient, name), (cls, name)

    def test_every_public_method_of_base_client_is_abstract(self) -> None:
        """No behaviour hides in the base class: each transport answers every call itself."""
        concrete = [name for name, value in vars(BaseClient).items()
                    if callable(value) and not name.startswith("_") and name not in BaseClient.__abstractmethods__]
        assert not concrete, f"BaseClient methods with a body in the base class: {concrete}"

    def test_no_transport_has_a_method_the_contract_lacks(self) -> None:
        """A method only one transport has (a user admin call over HTTP only, say) fails here: add it to
        BaseClient, to the other transport and to a scenario."""
        from signoff.sdk._remote import RemoteClient

        for cls in (EmbeddedClient, RemoteClient):
            public = {name for klass in cls.__mro__ if klass not in (BaseClient, abc.ABC, object)
                      for name, value in vars(klass).items() if inspect.isfunction(value) and not name.startswith("_")}
            assert public <= BaseClient.__abstractmethods__, (cls, sorted(public - BaseClient.__abstractmethods__))

    def test_each_transport_takes_the_contracts_arguments(self) -> None:
        from signoff.sdk._remote import RemoteClient

        for cls in (EmbeddedClient, RemoteClient):
            for name in sorted(BaseClient.__abstractmethods__):
                want = inspect.signature(getattr(BaseClient, name)).parameters
                got = inspect.signature(getattr(cls, name)).parameters
                assert [(p.name, p.kind, p.default) for p in got.values()] == \
                    [(p.name, p.kind, p.default) for p in want.values()], (cls.__name__, name)
