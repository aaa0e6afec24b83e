"""Rollback, revoke and break-glass: who may, what becomes live, and the trail each leaves."""

from __future__ import annotations

from typing import Any

import pytest

from signoff.bootstrap import Context
from signoff.domain import events
from signoff.errors import (
    AuthenticationFailed,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import DIGEST, artifact_file, unique


class People:
    def __init__(self, ctx: Context) -> None:
        self.home = ctx.settings.home
        for user in ("dana", "rita", "ron", "uma", "eve", "erin", "paula", "pete"):
            setattr(self, user, EmbeddedClient(actor=user, context=ctx))

    def approved_in_dev(self, name: str, versions: int) -> None:
        for n in range(1, versions + 1):
            self.dana.register(name, artifact_file(self.home, f"{name}-{n}.pkl"))  # type: ignore[attr-defined]
            self.rita.approve(name, n, "dev")  # type: ignore[attr-defined]

    def param(self, name: str, env: str) -> Any:
        return self.dana.parameter(f"/signoff/models/{name}/{env}")  # type: ignore[attr-defined]


@pytest.fixture
def people(ctx: Context) -> People:
    return People(ctx)


def event_data(client: Any, type_: str) -> list[dict[str, Any]]:
    return [e.event["data"] for e in client.events(type=type_)]


class TestRollback:
    def test_the_previous_approved_version_goes_live_again(self, people: Any) -> None:
        name = unique()
        people.approved_in_dev(name, 2)
        r = people.ron.rollback(name, "dev", reason="v2 misbehaves")
        assert (r.version, r.previous_version, r.change) == (1, 2, "rollback")
        assert people.dana.resolve(name, "dev").version == 1
        param = people.param(name, "dev")
        assert param.version == 3
        assert (param.value["version"], param.value["change"], param.value["reason"]) == (1, "rollback", "v2 misbehaves")
        assert param.value["approved_by"] == ["rita"] and param.value["changed_by"] == "ron"
        history = people.dana.parameter_history(f"/signoff/models/{name}/dev")
        assert [h.value["version"] for h in history] == [1, 2, 1]

    def test_it_is_announced_and_audited(self, people: Any) -> None:
        name = unique()
        people.approved_in_dev(name, 2)
        people.rita.rollback(name, "dev", reason="incident 12")
        [data] = [d for d in event_data(people.dana, events.ROLLED_BACK) if d["model"] == name]
        assert (data["from_version"], data["to_version"], data["actor"], data["reason"]) == (2, 1, "rita", "incident 12")
        [entry] = [e for e in people.dana.audit(model=name) if e.action == "environment.rolled_back"]
        assert entry.actor == "rita" and entry.after["parameter_version"] == 3
        assert people.dana.verify_audit().ok

    def test_a_named_version_approved_there_can_be_chosen(self, people: Any) -> None:
        name = unique()
        people.approved_in_dev(name, 3)
        assert people.rita.rollback(name, "dev", to_version=1).version == 1
        assert people.rita.rollback(name, "dev", to_version=3).version == 3

    def test_only_versions_approved_there_qualify(self, people: Any) -> None:
        name = unique()
        people.approved_in_dev(name, 1)
        people.dana.register(name, "s3://b/pending.pkl", digest=DIGEST)
        with pytest.raises(InvalidTransition, match="PendingManualApproval in dev"):
            people.rita.rollback(name, "dev", to_version=2)
        with pytest.raises(InvalidTransition, match="already live"):
            people.rita.rollback(name, "dev", to_version=1)
        with pytest.raises(InvalidTransition, match="nothing to roll back to"):
            people.rita.rollback(name, "dev")

    def test_only_approvers_of_the_environment_may_roll_back(self, people: Any) -> None:
        name = unique()
        people.approved_in_dev(name, 2)
        for outsider in (people.uma, people.eve, people.erin):
            with pytest.raises(PermissionDenied, match="approver group for dev"):
                outsider.rollback(name, "dev")
        assert people.dana.resolve(name, "dev").version == 2

    def test_unknown_model_environment_and_user_are_refused(self, people: Any, ctx: Context) -> None:
        with pytest.raises(NotFound):
            people.rita.rollback("no-such-model", "dev")
        with pytest.raises(NotFound):
            people.rita.rollback("no-such-model", "mars")
        name = unique()
        people.approved_in_dev(name, 2)
        with pytest.raises(AuthenticationFailed):
            EmbeddedClient(actor="mallory", context=ctx).rollback(name, "dev")


class TestRevoke:
    def test_revoking_the_live_version_makes_the_previous_approved_one_live(self, people: Any) -> None:
        name = unique()
        people.approved_in_dev(name, 2)
        r = people.rita.revoke(name, 2, "dev", reason="leaks a feature from the future")
        assert (r.was_live, r.live_version, r.status) == (True, 1, "Revoked")
        assert people.dana.resolve(name, "dev").version == 1
        assert people.dana.version(name, 2).stages["dev"] == "Revoked"
        param = people.param(name, "dev")
        assert (param.value["version"], param.value["change"], param.value["revoked_version"]) == (1, "revoke", 2)
        [data] = [d for d in event_data(people.dana, events.VERSION_REVOKED) if d["model"] == name]
        assert data["version"] == 2 and data["revoked_by"] == "rita" and data["was_live"] is True

    def test_revoking_the_only_approved_version_leaves_nothing_live(self, people: Any) -> None:
        name = unique()
        people.approved_in_dev(name, 1)
        people.rita.revoke(name, 1, "dev", reason="wrong training window")
        with pytest.raises(NotFound, match="no version"):
            people.dana.resolve(name, "dev")
        value = people.param(name, "dev").value
        assert value["version"] is None and value["change"] == "revoke" and value["approved_envs"] == []

    def test_a_revoked_version_is_skipped_by_a_later_rollback(self, people: Any) -> None:
        name = unique()
        people.approved_in_dev(name, 3)
        people.rita.revoke(name, 2, "dev", reason="bad")  # not live: the live pointer stays on v3
        assert people.dana.resolve(name, "dev").version == 3
        assert people.rita.rollback(name, "dev").version == 1

    def test_revoking_a_pending_version_cancels_its_open_request(self, people: Any) -> None:
        name = unique()
        people.dana.register(name, "s3://b/x.pkl", digest=DIGEST)
        r = people.rita.revoke(name, 1, "dev", reason="registered by mistake")
        assert r.was_live is False and len(r.cancelled_requests) == 1
        assert people.dana.request(r.cancelled_requests[0]).state == "cancelled"

    def test_it_needs_a_reason_an_approver_and_a_revocable_state(self, people: Any) -> None:
        name = unique()
        people.approved_in_dev(name, 1)
        with pytest.raises(InvalidInput, match="reason"):
            people.rita.revoke(name, 1, "dev", reason=" ")
        with pytest.raises(PermissionDenied):
            people.uma.revoke(name, 1, "dev", reason="not mine to revoke")
        people.rita.revoke(name, 1, "dev", reason="bad")
        with pytest.raises(InvalidTransition, match="already Revoked"):
            people.ron.revoke(name, 1, "dev", reason="again")


class TestBreakGlass:
    JUSTIFICATION = "INC-42: prod model crashes on empty input; v2 fixes it"

    def test_a_member_of_the_emergency_group_skips_the_missing_approval(self, people: Any) -> None:
        name = unique()
        people.approved_in_dev(name, 1)
        r = people.erin.break_glass(name, 1, "test", justification=self.JUSTIFICATION)
        assert (r.version, r.change, r.approved_by, r.skipped_envs) == (1, "break_glass", ["erin"], ["test"])
        assert people.dana.resolve(name, "test").version == 1
        assert people.dana.version(name, 1).stages["test"] == "Approved"
        assert people.param(name, "test").value["change"] == "break_glass"

    def test_it_is_loudly_audited_and_announced(self, people: Any) -> None:
        name = unique()
        people.dana.register(name, "s3://b/hotfix.pkl", digest=DIGEST, owner_group="data-science")
        people.erin.break_glass(name, 1, "prod", justification=self.JUSTIFICATION)
        [entry] = [e for e in people.dana.audit(model=name) if e.action == "promotion.break_glass"]
        assert entry.actor == "erin" and entry.after["justification"] == self.JUSTIFICATION
        assert entry.after["skipped_envs"] == ["dev", "test", "uat", "prod"]
        [data] = [d for d in event_data(people.dana, events.BREAK_GLASS) if d["model"] == name]
        assert data["approvers"] == ["ml-leads", "risk-office"] and data["owner_group"] == "data-science"
        assert data["emergency_group"] == "emergency" and data["justification"] == self.JUSTIFICATION
        approved = [d for d in event_data(people.dana, events.VERSION_APPROVED) if d["model"] == name]
        assert [d["change"] for d in approved] == ["break_glass"]  # deploy hooks hear about it too

    def test_a_non_member_is_refused_and_the_attempt_is_audited(self, people: Any) -> None:
        name = unique()
        people.approved_in_dev(name, 1)
        with pytest.raises(PermissionDenied, match="emergency group 'emergency'") as caught:
            people.paula.break_glass(name, 1, "prod", justification=self.JUSTIFICATION)
        assert caught.value.details == {"required_groups": ["emergency"]}
        with pytest.raises(NotFound):
            people.dana.resolve(name, "prod")
        refused = [e for e in people.dana.audit(model=name) if e.action == "promotion.break_glass_refused"]
        assert [e.actor for e in refused] == ["paula"]
        assert event_data(people.dana, events.BREAK_GLASS) == []

    def test_it_needs_a_written_justification(self, people: Any) -> None:
        name = unique()
        people.approved_in_dev(name, 1)
        with pytest.raises(InvalidInput, match="justification"):
            people.erin.break_glass(name, 1, "test", justification="hotfix")

    def test_it_does_not_overturn_a_decision(self, people: Any) -> None:
        name = unique()
        people.dana.register(name, "s3://b/x.pkl", digest=DIGEST)
        people.rita.reject(name, 1, "dev", "no")
        with pytest.raises(InvalidTransition, match="Rejected in dev; a rejection or revocation is final"):
            people.erin.break_glass(name, 1, "dev", justification=self.JUSTIFICATION)

    def test_an_open_request_for_the_environment_is_closed(self, people: Any) -> None:
        name = unique()
        people.dana.register(name, "s3://b/x.pkl", digest=DIGEST)
        people.erin.break_glass(name, 1, "dev", justification=self.JUSTIFICATION)
        assert people.dana.requests(model=name, env="dev")[0].state == "cancelled"
        with pytest.raises(InvalidTransition):
            people.dana.open_request(name, 1, "dev")
