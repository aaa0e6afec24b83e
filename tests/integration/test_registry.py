"""Registry and sign-off use cases on a real SQLite file."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from signoff.adapters.db.tables import AuditRow, OutboxRow, ParameterRow, RequestRow, VersionRow
from signoff.bootstrap import Context
from signoff.errors import AlreadyExists, AuthenticationFailed, InvalidInput, InvalidTransition, NotFound, PermissionDenied
from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import DIGEST, unique


def as_(ctx: Context, who: str) -> EmbeddedClient:
    return EmbeddedClient(actor=who, context=ctx)


def counts(ctx: Context) -> dict[str, int]:
    with ctx.engine.connect() as conn:
        return {t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (VersionRow, RequestRow, ParameterRow, AuditRow, OutboxRow)}


def live_in_dev(ctx: Context, model: str, metrics: dict[str, Any] | None = None) -> None:
    as_(ctx, "dana").register(model, "s3://bucket/m.pkl", digest=DIGEST, metrics=metrics or {"accuracy": 0.95})
    as_(ctx, "rita").approve(model, 1, "dev")


class TestRegister:
    def test_versions_count_from_one_per_model(self, ctx: Context) -> None:
        a, b = unique(), unique()
        dana = as_(ctx, "dana")
        assert [dana.register(a, "s3://x/1", digest=DIGEST).version, dana.register(a, "s3://x/2", digest=DIGEST).version,
                dana.register(b, "s3://x/3", digest=DIGEST).version] == [1, 2, 1]

    def test_every_environment_starts_pending(self, ctx: Context) -> None:
        v = as_(ctx, "dana").register(unique(), "s3://x/1", metrics={"accuracy": 0.9})
        assert v.stages == {e: "PendingManualApproval" for e in ("dev", "test", "uat", "prod")}

    def test_registration_opens_the_first_environments_request(self, ctx: Context) -> None:
        name = unique()
        as_(ctx, "dana").register(name, "s3://x/1", digest=DIGEST)
        open_ = as_(ctx, "dana").requests(state="open", model=name)
        assert [(r.env, r.version, r.kind) for r in open_] == [("dev", 1, "approval")]

    def test_registration_writes_its_event_and_audit_entry(self, ctx: Context) -> None:
        name = unique()
        as_(ctx, "dana").register(name, "s3://x/1", digest=DIGEST)
        types = [e["event"]["type"] for e in as_(ctx, "dana").events() if name in e["event"]["subject"]]
        assert types == ["signoff.version.registered", "signoff.approval.requested"]
        event = as_(ctx, "dana").events(type="signoff.version.registered")[-1]["event"]
        assert event["specversion"] == "1.0" and event["subject"] == f"models/{name}/versions/1"
        assert [e.action for e in as_(ctx, "dana").audit(model=name)] == [
            "model.created", "version.registered", "approval.requested"]

    @pytest.mark.parametrize("bad", ["Churn", "-x", "a b", "", "x" * 129, "é"])
    def test_a_malformed_model_name_is_refused_and_writes_nothing(self, ctx: Context, bad: str) -> None:
        before = counts(ctx)
        with pytest.raises(InvalidInput) as err:
            as_(ctx, "dana").register(bad, "s3://x/1", digest=DIGEST)
        assert err.value.code == "invalid_input"
        assert counts(ctx) == before

    def test_a_non_numeric_metric_is_refused_and_writes_nothing(self, ctx: Context) -> None:
        before = counts(ctx)
        with pytest.raises(InvalidInput, match="accuracy"):
            as_(ctx, "dana").register(unique(), "s3://x/1", metrics={"accuracy": "high"})
        assert counts(ctx) == before


class TestApprove:
    def test_approving_makes_the_version_live_and_puts_a_parameter(self, ctx: Context) -> None:
        name = unique()
        live_in_dev(ctx, name)
        live = as_(ctx, "eve").resolve(name, "dev")
        assert (live.version, live.approved_by, live.approved_envs) == (1, ["rita"], ["dev"])
        param = as_(ctx, "eve").parameter(f"/signoff/models/{name}/dev")
        assert param.version == 1
        assert param.value["version"] == 1 and param.value["approved_by"] == ["rita"]
        assert param.value["approved_envs"] == ["dev"] and param.value["request_id"] == live.request_id

    def test_the_registrant_may_not_approve_and_nothing_is_written(self, ctx: Context) -> None:
        name = unique()
        as_(ctx, "dana").register(name, "s3://x/1", digest=DIGEST)
        before = counts(ctx)
        with pytest.raises(PermissionDenied):
            as_(ctx, "dana").approve(name, 1, "dev")
        assert counts(ctx) == before

    def test_a_non_member_may_not_approve(self, ctx: Context) -> None:
        name = unique()
        as_(ctx, "dana").register(name, "s3://x/1", digest=DIGEST)
        with pytest.raises(PermissionDenied, match="ml-reviewers"):
            as_(ctx, "eve").approve(name, 1, "dev")

    def test_an_unknown_user_may_not_decide(self, ctx: Context) -> None:
        name = unique()
        as_(ctx, "dana").register(name, "s3://x/1", digest=DIGEST)
        with pytest.raises(AuthenticationFailed):
            as_(ctx, "nobody").approve(name, 1, "dev")

    def test_rejection_marks_the_version_rejected_there(self, ctx: Context) -> None:
        name = unique()
        as_(ctx, "dana").register(name, "s3://x/1", digest=DIGEST)
        r = as_(ctx, "rita").reject(name, 1, "dev", "leaks the label")
        assert r.state == "rejected" and r.decisions[0]["comment"] == "leaks the label"
        assert as_(ctx, "rita").version(name, 1).stages["dev"] == "Rejected"
        with pytest.raises(NotFound):
            as_(ctx, "rita").resolve(name, "dev")

    def test_a_newer_approval_replaces_the_live_version_and_history_keeps_both(self, ctx: Context) -> None:
        name = unique()
        live_in_dev(ctx, name)
        as_(ctx, "dana").register(name, "s3://x/2", digest=DIGEST)
        as_(ctx, "ron").approve(name, 2, "dev")
        v1, v2 = as_(ctx, "eve").version(name, 1), as_(ctx, "eve").version(name, 2)
        assert v1.stages["dev"] == v2.stages["dev"] == "Approved"
        assert (v1.live_in, v2.live_in) == ([], ["dev"])
        history = as_(ctx, "eve").parameter_history(f"/signoff/models/{name}/dev")
        assert [(p.version, p.value["version"]) for p in history] == [(1, 1), (2, 2)]
        assert as_(ctx, "eve").parameter(f"/signoff/models/{name}/dev", 1).value["version"] == 1


class TestPromote:
    def test_promotion_is_refused_before_approval_in_the_previous_environment(self, ctx: Context) -> None:
        name = unique()
        as_(ctx, "dana").register(name, "s3://x/1", digest=DIGEST)
        before = counts(ctx)
        with pytest.raises(InvalidTransition, match="not Approved; it can be promoted to test only after approval in dev"):
            as_(ctx, "dana").request_promotion(name, 1, "test")
        assert counts(ctx) == before

    def test_skipping_an_environment_is_refused(self, ctx: Context) -> None:
        name = unique()
        live_in_dev(ctx, name)
        with pytest.raises(InvalidTransition, match="in test"):
            as_(ctx, "dana").request_promotion(name, 1, "uat")

    def test_promotion_opens_a_request_with_gate_results(self, ctx: Context) -> None:
        name = unique()
        live_in_dev(ctx, name, {"accuracy": 0.95})
        r = as_(ctx, "dana").request_promotion(name, 1, "test", reason="ready")
        assert (r.env, r.kind, r.state) == ("test", "promotion", "open")
        assert r.gate_results[0]["gate"] == "accuracy >= 0.9" and r.gate_results[0]["passed"]

    def test_a_second_open_request_for_the_same_environment_conflicts(self, ctx: Context) -> None:
        name = unique()
        live_in_dev(ctx, name)
        as_(ctx, "dana").request_promotion(name, 1, "test")
        with pytest.raises(AlreadyExists, match="already open") as err:
            as_(ctx, "dana").request_promotion(name, 1, "test")
        assert err.value.code == "already_exists"

    def test_an_unknown_environment_is_not_found(self, ctx: Context) -> None:
        name = unique()
        live_in_dev(ctx, name)
        with pytest.raises(NotFound, match="unknown environment"):
            as_(ctx, "dana").request_promotion(name, 1, "staging")

    def test_a_failing_gate_blocks_approval_with_its_name(self, ctx: Context) -> None:
        from signoff.errors import GateFailed

        name = unique()
        live_in_dev(ctx, name, {"accuracy": 0.8})
        as_(ctx, "dana").request_promotion(name, 1, "test")
        with pytest.raises(GateFailed, match="accuracy >= 0.9"):
            as_(ctx, "rita").approve(name, 1, "test")


class TestInferenceReports:
    def test_a_report_opens_the_next_environments_request_with_its_metrics(self, ctx: Context) -> None:
        name = unique()
        live_in_dev(ctx, name, {"accuracy": 0.8})
        out = as_(ctx, "dana").report_inference(name, 1, "dev", metrics={"accuracy": 0.93}, rows=1000)
        p = out.promotion_request
        assert (p["env"], p["evidence"], p["gate_results"][0]["passed"]) == ("test", {"accuracy": 0.93}, True)

    def test_a_report_for_an_unapproved_environment_is_refused(self, ctx: Context) -> None:
        name = unique()
        as_(ctx, "dana").register(name, "s3://x/1", digest=DIGEST)
        with pytest.raises(InvalidTransition):
            as_(ctx, "dana").report_inference(name, 1, "dev", metrics={"accuracy": 0.9})


class TestWholeLifecycle:
    def test_a_version_walks_from_dev_to_prod_with_two_prod_approvers(self, ctx: Context) -> None:
        name = unique()
        live_in_dev(ctx, name)
        for env, approvers, prev in (("test", ["rita"], "dev"), ("uat", ["uma"], "test"),
                                     ("prod", ["paula", "pete"], "uat")):
            report = as_(ctx, "dana").report_inference(name, 1, prev, metrics={"accuracy": 0.95}, rows=10)
            rid = report.promotion_request["id"]
            for who in approvers:
                state = as_(ctx, who).decide(rid, "approve").state
            assert state == "approved"
        live = as_(ctx, "eve").resolve(name, "prod")
        assert live.approved_by == ["paula", "pete"]
        assert live.approved_envs == ["dev", "test", "uat", "prod"]
        assert as_(ctx, "eve").verify_audit().ok


class TestAudit:
    def test_an_edited_audit_row_is_named_by_verify(self, ctx: Context) -> None:
        from sqlalchemy import text

        name = unique()
        live_in_dev(ctx, name)
        assert as_(ctx, "eve").verify_audit().ok
        target = as_(ctx, "eve").audit(model=name)[2]["id"]
        with ctx.engine.begin() as conn:  # behind signoff's back, as an attacker with DB access would
            conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = :id"), {"id": target})
        report = as_(ctx, "eve").verify_audit()
        assert not report.ok and report.first_broken == target
