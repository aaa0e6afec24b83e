"""What an inference report's promotion request must pass: gates, soak time, freeze windows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from signoff.bootstrap import Context, bootstrap
from signoff.errors import GateFailed, PolicyViolation
from signoff.sdk._embedded import EmbeddedClient
from signoff.services.ports import FixedClock
from tests.conftest import DIGEST, ENVIRONMENTS, make_settings, unique

POLICIES: dict[str, Any] = {
    **ENVIRONMENTS,
    "test": {"approvers": ["ml-reviewers"], "gates": ["accuracy >= 0.9", "f1 >= live.f1 - 0.01"],
             "min_soak": "24h"},
    "uat": {"approvers": ["uat-approvers"], "freeze": ["Fri 16:00-Mon 08:00 Europe/Berlin"]},
}


@pytest.fixture
def policy_ctx(tmp_path: Path, clock: FixedClock) -> Iterator[Context]:
    ctx = bootstrap(make_settings(tmp_path, environments=POLICIES), clock=clock)
    yield ctx
    ctx.close()


def clients(ctx: Context) -> dict[str, EmbeddedClient]:
    return {u: EmbeddedClient(actor=u, context=ctx) for u in ("dana", "rita", "ron", "uma")}


def live_in_dev(c: dict[str, EmbeddedClient], name: str, version: int = 1) -> None:
    c["dana"].register(name, f"s3://b/{name}-{version}.pkl", digest=DIGEST)
    c["rita"].approve(name, version, "dev")


def report(c: dict[str, EmbeddedClient], name: str, version: int, env: str, **metrics: float) -> Any:
    c["dana"].report_inference(name, version, env, metrics=metrics, rows=1000)
    return c["dana"].open_request(name, version, {"dev": "test", "test": "uat", "uat": "prod"}[env])


class TestGates:
    def test_a_passing_report_can_be_approved(self, policy_ctx: Context, clock: FixedClock) -> None:
        c, name = clients(policy_ctx), unique()
        live_in_dev(c, name)
        request = report(c, name, 1, "dev", accuracy=0.95, f1=0.9)
        assert [(g["gate"], g["passed"]) for g in request.gate_results] == [
            ("accuracy >= 0.9", True), ("f1 >= live.f1 - 0.01", True)]
        assert request.gate_results[1]["reason"] == "no live version to compare with"
        clock.advance(hours=25)
        assert c["rita"].decide(request.id, "approve").state == "approved"

    def test_a_failing_gate_blocks_approval_and_names_the_gate(self, policy_ctx: Context, clock: FixedClock) -> None:
        c, name = clients(policy_ctx), unique()
        live_in_dev(c, name)
        request = report(c, name, 1, "dev", accuracy=0.85, f1=0.9)
        clock.advance(hours=25)
        with pytest.raises(GateFailed) as caught:
            c["rita"].decide(request.id, "approve")
        assert caught.value.code == "gate_failed"
        assert "accuracy >= 0.9" in caught.value.message and "0.85" in caught.value.message
        assert [g["gate"] for g in caught.value.details["gates"]] == ["accuracy >= 0.9"]
        assert c["rita"].decide(request.id, "reject", "below the gate").state == "rejected"

    def test_a_gate_compares_with_the_version_live_in_the_target_environment(self, policy_ctx: Context,
                                                                               clock: FixedClock) -> None:
        c, name = clients(policy_ctx), unique()
        live_in_dev(c, name)
        clock.advance(hours=25)
        c["rita"].decide(report(c, name, 1, "dev", accuracy=0.95, f1=0.90).id, "approve")
        c["dana"].report_inference(name, 1, "test", metrics={"accuracy": 0.95, "f1": 0.90}, rows=10)
        live_in_dev(c, name, version=2)
        worse = report(c, name, 2, "dev", accuracy=0.96, f1=0.88)
        assert [g["passed"] for g in worse.gate_results] == [True, False]
        assert worse.gate_results[1]["reason"] == "0.88 >= 0.89 is false"


class TestSoakTime:
    def test_approval_waits_until_the_version_soaked_in_the_previous_environment(
            self, policy_ctx: Context, clock: FixedClock) -> None:
        c, name = clients(policy_ctx), unique()
        live_in_dev(c, name)
        request = report(c, name, 1, "dev", accuracy=0.95, f1=0.9)
        clock.advance(hours=23, minutes=59)
        with pytest.raises(PolicyViolation) as caught:
            c["rita"].decide(request.id, "approve")
        assert caught.value.details["rule"] == "min_soak" and "86400s" in caught.value.message
        clock.advance(minutes=1)
        assert c["rita"].decide(request.id, "approve").state == "approved"


class TestFreezeWindows:
    def promoted_to_test(self, ctx: Context, clock: FixedClock) -> tuple[dict[str, EmbeddedClient], str, Any]:
        c, name = clients(ctx), unique()
        live_in_dev(c, name)
        clock.advance(hours=25)
        c["rita"].decide(report(c, name, 1, "dev", accuracy=0.95, f1=0.9).id, "approve")
        return c, name, report(c, name, 1, "test", accuracy=0.95, f1=0.9)

    def test_approvals_are_refused_inside_the_window(self, policy_ctx: Context, clock: FixedClock) -> None:
        c, _, request = self.promoted_to_test(policy_ctx, clock)
        clock.at = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # Saturday
        with pytest.raises(PolicyViolation) as caught:
            c["uma"].decide(request.id, "approve")
        assert caught.value.details["rule"] == "freeze"
        assert "reopen at 2026-11-30T07:00:00+00:00" in caught.value.message  # Monday 08:00 Berlin

    def test_a_rejection_is_still_possible_inside_the_window(self, policy_ctx: Context, clock: FixedClock) -> None:
        c, _, request = self.promoted_to_test(policy_ctx, clock)
        clock.at = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # Friday 16:30 Berlin
        assert c["uma"].decide(request.id, "reject", "not during the freeze").state == "rejected"

    def test_approvals_reopen_when_the_window_ends(self, policy_ctx: Context, clock: FixedClock) -> None:
        c, _, request = self.promoted_to_test(policy_ctx, clock)
        clock.at = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # Monday 08:00 Berlin
        assert c["uma"].decide(request.id, "approve").state == "approved"
