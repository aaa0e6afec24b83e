"""Every way a version could go live, or stay live, without the right people approving those bytes.

Each class closes one path: auto-approval skipping the checks, reports from a version nobody
serves, break-glass over a rejection, a revocation that stops at one environment, a rollback to
changed bytes, registrations that end without a digest, evidence rewritten after the decision,
and a board that says "pending" where nobody was asked.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from signoff.adapters.db.tables import AuditRow, InferenceReportRow, OutboxRow, VersionRow
from signoff.bootstrap import Context, bootstrap
from signoff.domain import events
from signoff.errors import ArtifactMismatch, InvalidInput, InvalidTransition, PolicyViolation
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import review
from signoff.services.ports import FixedClock
from tests.conftest import DIGEST, ENVIRONMENTS, artifact_file, make_settings, unique
from tests.integration.test_cli import Cli

Build = Callable[..., Context]


@pytest.fixture
def build(tmp_path: Path, clock: FixedClock) -> Iterator[Build]:
    """A context whose environments are the suite's with some keys changed per environment."""
    made: list[Context] = []

    def make(**changes: dict[str, Any]) -> Context:
        envs = copy.deepcopy(ENVIRONMENTS)
        for env, keys in changes.items():
            envs[env] = {**envs[env], **keys}  # type: ignore[dict-item]
        home = tmp_path / f"ctx{len(made)}"
        made.append(bootstrap(make_settings(home, environments=envs), clock=clock, migrate_schema=True))
        return made[-1]

    yield make
    for ctx in made:
        ctx.close()


class Team:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.home = ctx.settings.home
        self.c = {u: EmbeddedClient(actor=u, context=ctx) for u in ("dana", "rita", "ron", "uma", "erin", "eve")}

    def __getattr__(self, user: str) -> EmbeddedClient:
        return self.__dict__["c"][user]

    def register(self, name: str, **kw: Any) -> int:
        return int(self.dana.register(name, artifact_file(self.home, f"{unique()}.pkl"), **kw)["version"])

    def live(self, name: str, env: str) -> int | None:
        v = [x for x in self.eve.versions(name) if env in x["live_in"]]
        return int(v[0]["version"]) if v else None

    def stage(self, name: str, version: int, env: str) -> str:
        return str(self.eve.version(name, version)["stages"][env])

    def counts(self) -> dict[str, int]:
        with self.ctx.engine.connect() as conn:
            return {t.__tablename__: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                    for t in (AuditRow, OutboxRow, InferenceReportRow, VersionRow)}

    def audit(self, name: str, action: str) -> list[Any]:
        return [e for e in self.eve.audit(model=name, limit=1000) if e["action"] == action]


def through_test(team: Team, name: str, *, accuracy: float = 0.95) -> int:
    """A version approved in dev and, after a passing report there, in test."""
    v = team.register(name, metrics={"accuracy": accuracy})
    team.rita.approve(name, v, "dev")
    team.dana.report_inference(name, v, "dev", metrics={"accuracy": accuracy}, rows=100)
    team.ron.approve(name, v, "test")
    return v


class TestAutoApprovalPassesEveryCheck:
    """Before: `open_request` made an auto-approving environment's version live without any check."""

    def test_a_failing_gate_leaves_the_request_open_and_says_so(self, build: Build) -> None:
        team, name = Team(build(test={"auto_approve": True})), unique()
        v = team.register(name, metrics={"accuracy": 0.95})
        team.rita.approve(name, v, "dev")
        team.dana.report_inference(name, v, "dev", metrics={"accuracy": 0.5}, rows=100)
        request = team.eve.open_request(name, v, "test")
        assert request["auto_approve_blocked"]["rule"] == "gates"
        assert "accuracy >= 0.9" in request["auto_approve_blocked"]["message"]
        assert team.stage(name, v, "test") == "PendingManualApproval" and team.live(name, "test") is None

    def test_a_freeze_window_leaves_the_request_open(self, build: Build) -> None:
        # The suite's clock stands on a Wednesday noon.
        team, name = Team(build(dev={"auto_approve": True, "freeze": ["Wed 00:00-Thu 00:00 UTC"]})), unique()
        v = team.register(name)
        assert team.eve.open_request(name, v, "dev")["auto_approve_blocked"]["rule"] == "freeze"
        assert team.live(name, "dev") is None

    def test_soak_time_in_the_previous_environment_is_waited_for(self, build: Build) -> None:
        team, name = Team(build(test={"auto_approve": True, "gates": [], "min_soak": "24h"})), unique()
        v = team.register(name)
        team.rita.approve(name, v, "dev")
        team.dana.report_inference(name, v, "dev", metrics={"accuracy": 0.95}, rows=10)
        assert team.eve.open_request(name, v, "test")["auto_approve_blocked"]["rule"] == "min_soak"
        assert team.live(name, "test") is None

    def test_a_version_without_digest_is_not_approved_automatically(self, build: Build) -> None:
        team, name = Team(build(dev={"auto_approve": True})), unique()
        team.dana.register(name, "s3://b/unreadable.pkl")
        assert team.eve.open_request(name, 1, "dev")["auto_approve_blocked"]["rule"] == "require_digest"
        assert team.live(name, "dev") is None

    def test_when_every_check_holds_it_approves_with_a_recorded_decision(self, build: Build) -> None:
        team, name = Team(build(dev={"auto_approve": True})), unique()
        v = team.register(name)
        assert team.live(name, "dev") == v
        [request] = team.eve.requests(model=name, env="dev")
        assert request["state"] == "approved" and request["auto_approve_blocked"] is None
        [decision] = request["decisions"]
        assert decision["actor"] == "signoff:auto-approve" and decision["evidence"]["digest"].startswith("sha256:")


class TestReportsComeOnlyFromTheLiveVersion:
    """Before: any version Approved in the environment could report, live or not."""

    def test_a_report_for_an_approved_version_that_is_not_live_is_refused_and_writes_nothing(
        self, build: Build,
    ) -> None:
        team, name = Team(build()), unique()
        for _ in range(2):
            team.rita.approve(name, team.register(name), "dev")
        before = team.counts()
        with pytest.raises(InvalidTransition, match="version 2 is live there") as caught:
            team.dana.report_inference(name, 1, "dev", metrics={"accuracy": 0.99}, rows=10)
        assert caught.value.details["live_version"] == 2
        assert team.counts() == before
        assert team.eve.requests(model=name, env="test") == []


class TestBreakGlassRespectsRejections:
    """Before: break-glass made a version rejected in dev live in test."""

    def test_a_version_rejected_earlier_is_refused_and_the_refusal_audited(self, build: Build) -> None:
        team, name = Team(build()), unique()
        v = team.register(name)
        team.rita.reject(name, v, "dev", "leaks labels")
        with pytest.raises(InvalidTransition, match="Rejected in dev") as caught:
            team.erin.break_glass(name, v, "test", justification="customer outage, needs the fix now")
        assert caught.value.details["decided_against_in"] == {"dev": "Rejected"}
        assert team.live(name, "test") is None and team.stage(name, v, "test") == "PendingManualApproval"
        [refusal] = team.audit(name, "promotion.break_glass_refused")
        assert refusal["actor"] == "erin" and refusal["after"]["refusal"] == "decided_against"


class TestRevokeReachesEveryLaterEnvironment:
    """Before: revoking in dev left the version Approved and live in test."""

    def test_revoking_in_dev_revokes_where_it_is_approved_later_and_each_pointer_falls_back(
        self, build: Build,
    ) -> None:
        team, name = Team(build()), unique()
        v1, v2 = through_test(team, name), through_test(team, name)
        assert (team.live(name, "dev"), team.live(name, "test")) == (v2, v2)
        out = team.rita.revoke(name, v2, "dev", reason="training data was mislabelled")
        assert (team.stage(name, v2, "dev"), team.stage(name, v2, "test")) == ("Revoked", "Revoked")
        assert (team.live(name, "dev"), team.live(name, "test")) == (v1, v1)
        assert [e["env"] for e in out["environments"]] == ["dev", "test"]
        revoked = [e.event["data"] for e in team.eve.events(type=events.VERSION_REVOKED) if e.event["data"]["model"] == name]
        assert sorted(d["env"] for d in revoked) == ["dev", "test"]
        assert len(team.audit(name, "version.revoked")) == 2
        assert team.eve.verify_audit().ok

    def test_only_env_limits_it_to_the_named_environment(self, build: Build) -> None:
        team, name = Team(build()), unique()
        v = through_test(team, name)
        out = team.rita.revoke(name, v, "dev", reason="dev copy is broken", only_env=True)
        assert [e["env"] for e in out["environments"]] == ["dev"]
        assert (team.stage(name, v, "dev"), team.stage(name, v, "test")) == ("Revoked", "Approved")
        assert team.live(name, "test") == v


class TestRollbackChecksTheBytes:
    """Before: rollback made a version live again whatever its artifact held now."""

    def test_a_changed_artifact_is_refused_with_artifact_mismatch_and_nothing_moves(self, build: Build) -> None:
        team, name = Team(build()), unique()
        for _ in range(2):
            team.rita.approve(name, team.register(name), "dev")
        uri = team.eve.version(name, 1)["artifact_uri"]
        Path(uri.removeprefix("file://")).write_bytes(b"not what was approved")
        before = team.counts()
        with pytest.raises(ArtifactMismatch) as caught:
            team.rita.rollback(name, "dev", reason="v2 is slow")
        assert caught.value.code == "artifact_mismatch" and caught.value.details["version"] == 1
        assert team.live(name, "dev") == 2
        [refusal] = team.audit(name, "environment.rollback_refused")
        assert refusal["after"]["expected_digest"] == team.eve.version(name, 1)["digest"]
        assert team.counts()["outbox"] == before["outbox"]

    def test_unchanged_bytes_roll_back(self, build: Build) -> None:
        team, name = Team(build()), unique()
        for _ in range(2):
            team.rita.approve(name, team.register(name), "dev")
        assert team.rita.rollback(name, "dev")["version"] == 1


class TestRegistrationsEndWithADigest:
    """Before: a mistyped path registered without digest, and such a version could be approved."""

    def test_a_local_path_that_does_not_exist_is_refused_naming_it(self, build: Build, tmp_path: Path) -> None:
        team = Team(build())
        missing = str(tmp_path / "modle.pkl")
        before = team.counts()
        with pytest.raises(InvalidInput, match="modle.pkl") as caught:
            team.dana.register(unique(), missing)
        assert caught.value.details["path"] == missing
        assert team.counts() == before

    def test_the_cli_refuses_it_with_exit_2(self, tmp_path: Path) -> None:
        out = Cli(tmp_path)("register", "churn", "--artifact", str(tmp_path / "typo.pkl"), "--as", "dana")
        assert out.returncode == 2 and "typo.pkl" in out.stderr and "does not exist" in out.stderr

    def test_a_supplied_digest_must_be_well_formed_and_match_readable_bytes(self, build: Build) -> None:
        team = Team(build())
        with pytest.raises(InvalidInput, match="64 lowercase hex"):
            team.dana.register(unique(), "s3://b/m.pkl", digest="sha256:00")
        path = artifact_file(team.home, "m.pkl")
        with pytest.raises(InvalidInput, match="does not match"):
            team.dana.register(unique(), path, digest=DIGEST, store=False)
        assert team.dana.register(unique(), "s3://b/m.pkl", digest=DIGEST)["digest"] == DIGEST

    def test_without_digest_only_environments_that_allow_it_approve(self, build: Build) -> None:
        strict = Team(build())
        strict.dana.register(name := unique(), "s3://b/unreadable.pkl")
        assert strict.eve.version(name, 1)["digest"] is None
        with pytest.raises(PolicyViolation, match="no artifact digest") as caught:
            strict.rita.approve(name, 1, "dev")
        assert caught.value.details["rule"] == "require_digest"
        lenient = Team(build(dev={"require_digest": False}))
        lenient.dana.register(name, "s3://b/unreadable.pkl")
        assert lenient.rita.approve(name, 1, "dev")["state"] == "approved"


class TestDecisionsKeepTheirEvidence:
    """Before: once approved, the review page compared the candidate with itself ("nothing is live")."""

    def test_the_snapshot_shown_to_the_approver_stays_the_record(self, build: Build) -> None:
        team, name = Team(build()), unique()
        team.rita.approve(name, team.register(name, metrics={"accuracy": 0.9}), "dev")
        v2 = team.register(name, metrics={"accuracy": 0.93})
        request = team.rita.approve(name, v2, "dev")
        page = review.review(uow=team.ctx.uow(), workflow=team.ctx.workflow, request_id=request["id"])
        assert page["live"] is not None and page["live"]["version"] == 1, "the comparison the approver saw"
        snapshot = request["decisions"][0]["evidence"]
        assert snapshot["live"]["version"] == 1 and snapshot["digest"] == team.eve.version(name, v2)["digest"]
        assert snapshot["metrics"] == [{"name": "accuracy", "candidate": 0.93, "live": 0.9,
                                        "delta": pytest.approx(0.03)}]
        assert page["evidence_frozen"] and page["metrics"][0]["live"] == 0.9
        assert team.eve.request(request["id"])["decisions"][0]["evidence"] == snapshot


class TestEvidenceSaysWhereItCameFrom:
    """Before: a request's metrics carried no source, so training and inference numbers looked alike."""

    def test_a_promotion_names_the_report_its_metrics_came_from(self, build: Build) -> None:
        team, name = Team(build()), unique()
        v = team.register(name, metrics={"accuracy": 0.97})
        team.rita.approve(name, v, "dev")
        report = team.dana.report_inference(name, v, "dev", metrics={"accuracy": 0.91}, rows=512)
        request = team.eve.open_request(name, v, "test")
        source = request["evidence_source"]
        assert (source["source"], source["env"], source["rows"], source["report_id"]) == ("inference", "dev", 512,
                                                                                           report["id"])
        first = team.eve.requests(model=name, env="dev")[0]
        assert first["evidence_source"] == {"source": "training"}
        page = review.review(uow=team.ctx.uow(), workflow=team.ctx.workflow, request_id=request["id"])
        assert page["evidence_label"].startswith(f"inference report {report['id']} in dev: 512 rows")


class TestTheBoardTellsTheTruth:
    """Before: every environment nobody was asked about read PendingManualApproval, rejection or not."""

    def test_one_vocabulary_with_request_states_beside_sagemakers(self, build: Build) -> None:
        team, name = Team(build()), unique()
        v1 = team.register(name)
        team.rita.reject(name, v1, "dev", "wrong features")
        v2 = team.register(name)
        board = {v["version"]: v for v in team.eve.status(name)}
        assert board[v1]["board"] == {"dev": "rejected", "test": "blocked", "uat": "blocked", "prod": "blocked"}
        assert board[v1]["stages"]["test"] == "PendingManualApproval"
        assert board[v2]["board"] == {"dev": "waiting_for_approval", "test": "not_requested",
                                      "uat": "not_requested", "prod": "not_requested"}
        assert board[v2]["request_states"] == {"dev": "open", "test": None, "uat": None, "prod": None}
