"""The workflow as rules: default rules, inline dispatch, idempotent built-in actions, rule sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from tests.conftest import DIGEST, make_settings, unique

from signoff.adapters.db.tables import DeliveryRow, OutboxRow, RequestRow
from signoff.bootstrap import Context, bootstrap
from signoff.errors import AlreadyExists, InvalidInput, PatternInvalid
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import rules


def as_(ctx: Context, who: str) -> EmbeddedClient:
    return EmbeddedClient(actor=who, context=ctx)


def requests_for(ctx: Context, model: str, env: str) -> list[dict[str, Any]]:
    return [r for r in as_(ctx, "eve").requests(model=model, env=env)]


def to_dev_and_report(ctx: Context, name: str) -> dict[str, Any]:
    as_(ctx, "dana").register(name, "s3://b/m.pkl", digest=DIGEST, metrics={"accuracy": 0.95})
    as_(ctx, "rita").approve(name, 1, "dev")
    return as_(ctx, "dana").report_inference(name, 1, "dev", metrics={"accuracy": 0.97}, rows=100)


class TestTheDefaultRulesRunTheWorkflow:
    def test_registering_opens_the_first_request_through_the_registration_rule(self, ctx: Context) -> None:
        name = unique()
        as_(ctx, "dana").register(name, "s3://b/m.pkl", digest=DIGEST)
        request = as_(ctx, "dana").open_request(name, 1, "dev")
        assert (request.reason, request.requested_by, request.kind) == ("registered", "dana", "approval")
        [delivery] = as_(ctx, "eve").deliveries(rule="default-request-approval")
        assert delivery.state == "succeeded" and delivery.result == {"request_id": request.id, "env": "dev",
                                                                     "state": "open"}

    def test_an_inference_report_opens_the_next_environments_request(self, ctx: Context) -> None:
        report = to_dev_and_report(ctx, name := unique())
        promotion = report["promotion_request"]
        assert (promotion["env"], promotion["kind"], promotion["requested_by"]) == ("test", "promotion", "dana")
        assert promotion["reason"] == f"inference report {report['id']} in dev"
        assert promotion["evidence"] == {"accuracy": 0.97}
        assert [g["passed"] for g in promotion["gate_results"]] == [True]
        assert [r["id"] for r in requests_for(ctx, name, "test")] == [promotion["id"]]

    def test_audit_and_events_keep_their_order(self, ctx: Context) -> None:
        name = unique()
        as_(ctx, "dana").register(name, "s3://b/m.pkl", digest=DIGEST)
        actions = [e.action for e in as_(ctx, "dana").audit(model=name)]
        assert actions == ["model.created", "version.registered", "approval.requested"]
        types = [e.event["type"] for e in as_(ctx, "dana").events() if e.event["data"].get("model") == name]
        assert types == ["signoff.version.registered", "signoff.approval.requested"]

    def test_without_inline_dispatch_the_request_waits_for_a_worker(self, tmp_path: Path) -> None:
        ctx = bootstrap(make_settings(tmp_path, events={"inline": False}))
        try:
            name = unique()
            as_(ctx, "dana").register(name, "s3://b/m.pkl", digest=DIGEST)
            assert requests_for(ctx, name, "dev") == []
            ctx.inline_dispatcher().drain()
            assert [r["reason"] for r in requests_for(ctx, name, "dev")] == ["registered"]
        finally:
            ctx.close()

    def test_a_disabled_registration_rule_opens_nothing(self, ctx: Context) -> None:
        as_(ctx, "olga").set_rule_enabled("default-request-approval", False)
        name = unique()
        as_(ctx, "dana").register(name, "s3://b/m.pkl", digest=DIGEST)
        assert requests_for(ctx, name, "dev") == []
        as_(ctx, "dana").request_promotion(name, 1, "dev", reason="by hand")
        assert [r["reason"] for r in requests_for(ctx, name, "dev")] == ["by hand"]


class TestBuiltInActionsAreIdempotent:
    def test_an_event_fanned_out_twice_makes_no_second_delivery_or_request(self, ctx: Context) -> None:
        name = unique()
        as_(ctx, "dana").register(name, "s3://b/m.pkl", digest=DIGEST)
        with ctx.engine.begin() as conn:
            before = conn.execute(select(func.count()).select_from(DeliveryRow)).scalar_one()
            conn.execute(update(OutboxRow).values(dispatched_at=None))  # as if every event came back
        ctx.inline_dispatcher().drain()
        with ctx.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(DeliveryRow)).scalar_one() == before
        assert len(requests_for(ctx, name, "dev")) == 1

    def test_replaying_the_action_finds_the_request_open_and_does_nothing(self, ctx: Context) -> None:
        name = unique()
        as_(ctx, "dana").register(name, "s3://b/m.pkl", digest=DIGEST)
        [delivery] = as_(ctx, "eve").deliveries(rule="default-request-approval")
        replayed = as_(ctx, "olga").replay_delivery(delivery.id)
        assert replayed.state == "succeeded" and replayed.result["skipped"] == "a request is already open"
        assert len(requests_for(ctx, name, "dev")) == 1

    def test_two_rules_asking_for_the_same_request_open_it_once(self, ctx: Context) -> None:
        as_(ctx, "olga").add_rule("also-approve", {"type": ["signoff.version.registered"]},
                                  [{"type": "request_approval"}])
        name = unique()
        as_(ctx, "dana").register(name, "s3://b/m.pkl", digest=DIGEST)
        assert len(requests_for(ctx, name, "dev")) == 1
        results = [d.result for d in as_(ctx, "eve").deliveries(state="succeeded")
                   if d.rule in ("also-approve", "default-request-approval")]
        assert sorted("skipped" in r for r in results) == [False, True]

    def test_a_decided_request_is_never_reopened(self, ctx: Context) -> None:
        name = unique()
        as_(ctx, "dana").register(name, "s3://b/m.pkl", digest=DIGEST)
        as_(ctx, "rita").reject(name, 1, "dev", "label leak")
        [delivery] = as_(ctx, "eve").deliveries(rule="default-request-approval")
        assert "Rejected in dev" in as_(ctx, "olga").replay_delivery(delivery.id).result["skipped"]
        assert [r["state"] for r in requests_for(ctx, name, "dev")] == ["rejected"]

    def test_a_second_report_does_not_open_a_second_promotion(self, ctx: Context) -> None:
        to_dev_and_report(ctx, name := unique())
        again = as_(ctx, "dana").report_inference(name, 1, "dev", metrics={"accuracy": 0.96})
        assert again["promotion_request"] is None
        with ctx.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(RequestRow).where(RequestRow.env == "test")).scalar_one() == 1


class TestManagingRules:
    def test_an_invalid_pattern_is_refused_with_its_path(self, ctx: Context) -> None:
        with pytest.raises(PatternInvalid) as exc:
            as_(ctx, "olga").add_rule("bad", {"data": {"env": [{"prefix": 3}]}}, [{"type": "request_approval"}])
        assert exc.value.details["path"] == "$.data.env[0].prefix"
        assert "bad" not in [r.name for r in as_(ctx, "olga").rules()]

    def test_names_are_unique_and_changes_are_audited(self, ctx: Context) -> None:
        hook = {"type": "webhook", "url": "https://h.example.com/x", "secret": "s3cret"}
        as_(ctx, "olga").add_rule("deploy", {"type": ["signoff.version.approved"]}, [hook])
        with pytest.raises(AlreadyExists):
            as_(ctx, "olga").add_rule("deploy", {"type": ["x"]}, [hook])
        as_(ctx, "olga").set_rule_enabled("deploy", False)
        shown = as_(ctx, "eve").rule("deploy")
        assert shown.enabled is False and shown.source == "api" and shown.targets[0]["secret"] == "***"
        actions = [(e.action, e.actor) for e in as_(ctx, "eve").audit(limit=1000) if e.subject == "rules/deploy"]
        assert actions == [("rule.created", "olga"), ("rule.changed", "olga")]


class TestRulesFromConfig:
    HOOK = {"type": "webhook", "url": "https://deploy.example.com/hook", "secret_env": "DEPLOY_SECRET"}

    def test_config_rules_are_synced_at_start_and_removed_with_the_file_entry(self, tmp_path: Path) -> None:
        spec = {"name": "prod-deploy", "pattern": {"type": ["signoff.version.approved"]}, "targets": [self.HOOK]}
        ctx = bootstrap(make_settings(tmp_path, rules=[spec]))
        as_(ctx, "olga").add_rule("mine", {"type": ["x"]}, [{"type": "request_approval"}])
        assert {r.name: r.source for r in as_(ctx, "eve").rules()}["prod-deploy"] == "config"
        ctx.close()
        ctx = bootstrap(make_settings(tmp_path, rules=[]))
        names = [r.name for r in as_(ctx, "eve").rules()]
        ctx.close()
        assert "prod-deploy" not in names and "mine" in names and "default-request-approval" in names

    def test_a_config_rule_replaces_a_default_of_the_same_name(self, tmp_path: Path) -> None:
        off = {**rules.DEFAULT_RULES[0], "enabled": False}
        ctx = bootstrap(make_settings(tmp_path, rules=[off]))
        try:
            name = unique()
            as_(ctx, "dana").register(name, "s3://b/m.pkl", digest=DIGEST)
            assert requests_for(ctx, name, "dev") == []
        finally:
            ctx.close()

    def test_a_default_disabled_by_hand_stays_disabled_after_a_restart(self, tmp_path: Path) -> None:
        ctx = bootstrap(make_settings(tmp_path))
        as_(ctx, "olga").set_rule_enabled("default-notify-registrant", False)
        ctx.close()
        ctx = bootstrap(make_settings(tmp_path))
        try:
            assert as_(ctx, "eve").rule("default-notify-registrant").enabled is False
        finally:
            ctx.close()

    def test_a_bad_config_rule_names_its_key_and_path(self, tmp_path: Path) -> None:
        bad = {"name": "x", "pattern": {"data": {"env": "prod"}}, "targets": [self.HOOK]}
        with pytest.raises(PatternInvalid) as exc:
            bootstrap(make_settings(tmp_path, rules=[bad]))
        assert "rules[0].pattern" in exc.value.message and exc.value.details["path"] == "$.data.env"

    def test_an_unknown_target_field_in_config_is_refused(self, tmp_path: Path) -> None:
        bad = {"name": "x", "pattern": {"type": ["a"]}, "targets": [{**self.HOOK, "secrett": "typo"}]}
        with pytest.raises(InvalidInput) as exc:
            bootstrap(make_settings(tmp_path, rules=[bad]))
        assert "rules[0].targets[0].secrett" in exc.value.message
