"""The approval state machine, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from signoff.domain.approvals import ApprovalRequest, DecisionContext, RequestState, Verdict
from signoff.domain.gates import parse_gate
from signoff.domain.timespec import parse_freeze_window
from signoff.domain.workflow import Policy, Workflow
from signoff.errors import GateFailed, InvalidInput, InvalidTransition, NotFound, PermissionDenied, PolicyViolation

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday


def request(policy: Policy, **kw: object) -> ApprovalRequest:
    base: dict[str, object] = dict(id=1, model="churn", version=3, env=policy.env, kind="approval",
                                   requested_by="dana", reason="", policy=policy, created_at=NOW,
                                   expires_at=NOW + timedelta(days=7), digest="sha256:" + "ab" * 32)
    base.update(kw)
    return ApprovalRequest(**base)  # type: ignore[arg-type]


def ctx(actor: str, groups: set[str], **kw: object) -> DecisionContext:
    base: dict[str, object] = dict(actor=actor, groups=groups, registrant="dana", previous_stage_approvers=set(), now=NOW)
    base.update(kw)
    return DecisionContext(**base)  # type: ignore[arg-type]


REVIEWERS = {"ml-reviewers"}


class TestQuorumOfN:
    def test_one_approval_closes_a_single_approver_request(self) -> None:
        r = request(Policy(env="dev"))
        r.decide(Verdict.APPROVE, "", ctx("rita", REVIEWERS))
        assert r.state is RequestState.APPROVED and r.approvers == ["rita"]

    def test_two_required_approvals_leave_the_request_open_after_one(self) -> None:
        r = request(Policy(env="dev", required_approvals=2))
        r.decide(Verdict.APPROVE, "", ctx("rita", REVIEWERS))
        assert r.state is RequestState.OPEN
        assert r.missing() == "1 more approval"
        r.decide(Verdict.APPROVE, "", ctx("ron", REVIEWERS))
        assert r.state is RequestState.APPROVED

    def test_a_second_approval_by_the_same_person_does_not_count(self) -> None:
        r = request(Policy(env="dev", required_approvals=2))
        r.decide(Verdict.APPROVE, "", ctx("rita", REVIEWERS))
        with pytest.raises(InvalidTransition):
            r.decide(Verdict.APPROVE, "", ctx("rita", REVIEWERS))
        assert r.state is RequestState.OPEN and len(r.decisions) == 1

    def test_any_rejection_closes_the_request_as_rejected(self) -> None:
        r = request(Policy(env="dev", required_approvals=2))
        r.decide(Verdict.APPROVE, "", ctx("rita", REVIEWERS))
        r.decide(Verdict.REJECT, "drift on age", ctx("ron", REVIEWERS))
        assert r.state is RequestState.REJECTED

    def test_a_rejection_needs_a_comment(self) -> None:
        r = request(Policy(env="dev"))
        with pytest.raises(InvalidInput):
            r.decide(Verdict.REJECT, "  ", ctx("rita", REVIEWERS))
        assert r.decisions == []

    def test_a_closed_request_takes_no_more_decisions(self) -> None:
        r = request(Policy(env="dev"))
        r.decide(Verdict.APPROVE, "", ctx("rita", REVIEWERS))
        with pytest.raises(InvalidTransition):
            r.decide(Verdict.REJECT, "late", ctx("ron", REVIEWERS))


class TestWhoMayDecide:
    def test_a_non_member_is_refused(self) -> None:
        r = request(Policy(env="dev"))
        with pytest.raises(PermissionDenied) as err:
            r.decide(Verdict.APPROVE, "", ctx("eve", {"visitors"}))
        assert err.value.code == "forbidden"

    def test_the_registrant_may_not_approve_their_own_version(self) -> None:
        r = request(Policy(env="dev"))
        with pytest.raises(PermissionDenied, match="separation of duties"):
            r.decide(Verdict.APPROVE, "", ctx("dana", REVIEWERS))

    def test_the_registrant_may_approve_when_the_policy_allows_it(self) -> None:
        r = request(Policy(env="dev", registrant_may_approve=True))
        r.decide(Verdict.APPROVE, "", ctx("dana", REVIEWERS))
        assert r.state is RequestState.APPROVED

    def test_the_registrant_may_still_reject(self) -> None:
        r = request(Policy(env="dev"))
        r.decide(Verdict.REJECT, "found a bug", ctx("dana", REVIEWERS))
        assert r.state is RequestState.REJECTED

    def test_the_previous_stage_approver_may_not_approve_prod(self) -> None:
        r = request(Policy(env="prod", approvers=("ml-leads",), distinct_from_previous_stage=True))
        with pytest.raises(PermissionDenied, match="previous environment"):
            r.decide(Verdict.APPROVE, "", ctx("paula", {"ml-leads"}, previous_stage_approvers={"paula"}))

    def test_an_expired_request_is_refused(self) -> None:
        r = request(Policy(env="dev"), expires_at=NOW - timedelta(seconds=1))
        with pytest.raises(InvalidTransition, match="expired"):
            r.decide(Verdict.APPROVE, "", ctx("rita", REVIEWERS))


class TestEachGroupQuorum:
    policy = Policy(env="prod", approvers=("ml-leads", "risk-office"), quorum="each-group")

    def test_one_approval_from_each_group_is_needed(self) -> None:
        r = request(self.policy)
        r.decide(Verdict.APPROVE, "", ctx("paula", {"ml-leads"}))
        assert r.state is RequestState.OPEN and "risk-office" in r.missing()
        r.decide(Verdict.APPROVE, "", ctx("pete", {"risk-office"}))
        assert r.state is RequestState.APPROVED

    def test_one_person_in_both_groups_covers_only_one(self) -> None:
        r = request(self.policy)
        r.decide(Verdict.APPROVE, "", ctx("olga", {"ml-leads", "risk-office"}))
        assert r.state is RequestState.OPEN
        r.decide(Verdict.APPROVE, "", ctx("paula", {"ml-leads"}))
        assert r.state is RequestState.APPROVED  # olga covers risk-office, paula ml-leads


class TestPoliciesThatBlockApproval:
    def test_a_failed_gate_blocks_approval_and_names_the_gate(self) -> None:
        gate = parse_gate("accuracy >= 0.9")
        result = gate.evaluate({"accuracy": 0.85}, None).to_dict()
        r = request(Policy(env="test", gates=(gate,)), gate_results=[result])
        with pytest.raises(GateFailed, match="accuracy >= 0.9") as err:
            r.decide(Verdict.APPROVE, "", ctx("rita", REVIEWERS))
        assert err.value.code == "gate_failed"

    def test_a_failed_gate_does_not_block_rejection(self) -> None:
        gate = parse_gate("accuracy >= 0.9")
        r = request(Policy(env="test", gates=(gate,)), gate_results=[gate.evaluate({"accuracy": 0.5}, None).to_dict()])
        r.decide(Verdict.REJECT, "too weak", ctx("rita", REVIEWERS))
        assert r.state is RequestState.REJECTED

    def test_a_freeze_window_blocks_approval(self) -> None:
        window = parse_freeze_window("Wed 00:00-Thu 00:00 UTC")
        r = request(Policy(env="prod", approvers=("ml-leads",), freeze=(window,)))
        with pytest.raises(PolicyViolation, match="frozen"):
            r.decide(Verdict.APPROVE, "", ctx("paula", {"ml-leads"}))

    def test_soak_time_in_the_previous_environment_is_enforced(self) -> None:
        r = request(Policy(env="test", min_soak=timedelta(hours=24)))
        with pytest.raises(PolicyViolation, match="min_soak"):
            r.decide(Verdict.APPROVE, "", ctx("rita", REVIEWERS, live_since_previous=NOW - timedelta(hours=2)))
        r.decide(Verdict.APPROVE, "", ctx("rita", REVIEWERS, live_since_previous=NOW - timedelta(hours=25)))
        assert r.state is RequestState.APPROVED


def build_workflow(order: list[str], raw: dict[str, dict[str, object]]) -> Workflow:
    """A workflow as the settings make it (their defaults, bootstrap.workflow_from)."""
    from signoff.bootstrap import workflow_from
    from signoff.config import Settings

    return workflow_from(Settings.model_validate({"environments": {"order": order, **raw}}))


class TestWorkflow:
    def test_environments_keep_their_configured_order(self) -> None:
        wf = build_workflow(["dev", "test", "prod"], {})
        assert (wf.first, wf.next("dev"), wf.previous("prod"), wf.next("prod")) == ("dev", "test", "test", None)

    def test_the_last_environment_needs_distinct_approvers_by_default(self) -> None:
        wf = build_workflow(["dev", "prod"], {})
        assert wf.policy("prod").distinct_from_previous_stage and not wf.policy("dev").distinct_from_previous_stage

    def test_an_unknown_environment_is_not_found(self) -> None:
        with pytest.raises(NotFound, match="known: dev, prod"):
            build_workflow(["dev", "prod"], {}).check_env("qa")

    def test_a_bad_gate_in_config_names_its_key(self) -> None:
        with pytest.raises(InvalidInput, match="environments.test"):
            build_workflow(["dev", "test"], {"test": {"gates": ["accuracy >>= 1"]}})
