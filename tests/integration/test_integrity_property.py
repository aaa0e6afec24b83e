"""A stateful property test of the one promise: every live pointer is explained.

Hypothesis draws a policy for each environment (gates, freeze window, soak time, quorum,
separation of duties, distinct approver, require_digest, auto-approve), then random users
register, report, promote, decide, roll back, revoke, break glass, tamper with artifact bytes
and let time pass. After every step, every live pointer must be explained by an approval whose
policy held at that moment (or a recorded break-glass / rollback / revocation fallback to such
an approval), and the digest live is the one that was approved.

Sizes are bounded (examples × steps) so the run stays within tens of seconds on either database.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from signoff.adapters.db.tables import (
    AuditRow,
    DecisionRow,
    LiveRow,
    ModelRow,
    PromotionRow,
    RequestRow,
    VersionRow,
)
from signoff.bootstrap import Context, bootstrap
from signoff.domain.approvals import RequestState
from signoff.domain.timespec import frozen_by
from signoff.errors import SignoffError
from signoff.sdk._embedded import EmbeddedClient
from signoff.services.ports import FixedClock
from tests.conftest import USERS, artifact_file, database_url_for, make_settings, on_postgres, unique

ENVS = ("dev", "test", "prod")
ACTORS = ("dana", "rita", "ron", "paula", "pete", "olga", "eve", "erin")
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday noon
MADE_LIVE_BY_APPROVAL = ("approval", "auto_approve")


def policies() -> st.SearchStrategy[dict[str, Any]]:
    def one(env: str) -> st.SearchStrategy[dict[str, Any]]:
        groups = ["ml-leads", "risk-office"] if env == "prod" else ["ml-reviewers"]
        quorum = (st.sampled_from([{"quorum": "each-group"}, {"required_approvals": 1}]) if env == "prod"
                  else st.sampled_from([{"required_approvals": 1}, {"required_approvals": 2}]))
        return st.fixed_dictionaries({
            "approvers": st.just(groups),
            "gates": st.sampled_from([[], ["accuracy >= 0.9"]]),
            "freeze": st.sampled_from([[], [], ["Wed 00:00-Thu 00:00 UTC"]]),
            "min_soak": st.sampled_from([None, None, "2h"]),
            "registrant_may_approve": st.booleans(),
            "distinct_from_previous_stage": st.booleans(),
            "require_digest": st.sampled_from([True, True, False]),
            "auto_approve": st.sampled_from([False, False, True]),
        }).flatmap(lambda base: quorum.map(lambda q: {**base, **q}))

    return st.fixed_dictionaries({env: one(env) for env in ENVS})


class Integrity(RuleBasedStateMachine):
    home: Path  # set by the test: where each example keeps its artifacts
    database_url: str  # one database for all examples (a new one each costs seconds on PostgreSQL)

    def __init__(self) -> None:
        super().__init__()
        self.ctx: Context | None = None
        self.versions: list[int] = []  # version numbers
        self.files: dict[int, Path] = {}  # versions whose artifact signoff stored and can re-hash
        self.tampered_at: dict[int, datetime] = {}

    @initialize(config=policies(), first=st.lists(st.sampled_from(["file", "digest", "none"]), min_size=1, max_size=3))
    def start(self, config: dict[str, Any], first: list[str] | None = None) -> None:
        envs: dict[str, Any] = {"order": list(ENVS)}
        for env, policy in config.items():
            envs[env] = {k: v for k, v in policy.items() if v is not None}
        self.policy_config = envs
        root = Path(tempfile.mkdtemp(dir=self.home))
        self.clock = FixedClock(START)
        settings = make_settings(root, environments=envs, database_url=self.database_url)
        self.ctx = bootstrap(settings, clock=self.clock, migrate_schema=True)
        self.root = root
        self.model = unique("prop")  # examples share the database, not their model
        for kind in first or []:
            self.register(kind=kind, accuracy=0.95, user="dana")

    def teardown(self) -> None:
        if self.ctx is not None:
            self.ctx.close()

    def client(self, user: str) -> EmbeddedClient:
        assert self.ctx is not None
        return EmbeddedClient(actor=user, context=self.ctx)

    def attempt(self, action: Any) -> Any:
        try:
            return action()
        except SignoffError:
            return None  # refusals are allowed; what matters is what they leave behind

    # --- what people do ---------------------------------------------------------------------

    @rule(kind=st.sampled_from(["file", "digest", "none"]), accuracy=st.sampled_from([0.85, 0.95]),
          user=st.sampled_from(["dana", "erin"]))
    def register(self, kind: str, accuracy: float, user: str) -> None:
        if kind == "file":
            uri, digest = artifact_file(self.root, f"v{len(self.versions) + 1}.pkl"), None
        else:
            uri, digest = f"s3://b/v{len(self.versions) + 1}.pkl", ("sha256:" + "7" * 64 if kind == "digest" else None)
        v = self.client(user).register(self.model, uri, digest=digest, metrics={"accuracy": accuracy})
        self.versions.append(int(v["version"]))
        if kind == "file":
            self.files[int(v["version"])] = Path(v["artifact_uri"].removeprefix("file://"))

    @rule(pick=st.integers(0, 50), user=st.sampled_from(ACTORS), approve=st.booleans())
    def decide(self, pick: int, user: str, approve: bool) -> None:
        if not self.versions:
            return
        open_now = self.client("eve").requests(state="open", model=self.model)
        if open_now:
            request = open_now[pick % len(open_now)]
            self.attempt(lambda: self.client(user).decide(request["id"], "approve" if approve else "reject",
                                                           "" if approve else "not convinced"))

    @rule(pick=st.integers(0, 50), nth=st.integers(0, 3))
    def approve_as_members(self, pick: int, nth: int) -> None:
        """Most random users may not decide: two members of the right groups try, as a team would."""
        if not self.versions:
            return
        open_now = self.client("eve").requests(state="open", model=self.model)
        if open_now:
            request = open_now[pick % len(open_now)]
            groups = set(request["policy"]["approvers"])
            members = [u for u in ACTORS if set(USERS[u]["groups"]) & groups]
            for user in (members[(nth + i) % len(members)] for i in range(2)):
                self.attempt(lambda: self.client(user).decide(request["id"], "approve", "looks right"))

    @rule(pick=st.integers(0, 50), env=st.sampled_from(ENVS), accuracy=st.sampled_from([0.8, 0.93]))
    def report(self, pick: int, env: str, accuracy: float) -> None:
        if self.versions:
            v = self.versions[pick % len(self.versions)]
            self.attempt(lambda: self.client("dana").report_inference(self.model, v, env, metrics={"accuracy": accuracy},
                                                                      rows=100))

    @rule(pick=st.integers(0, 50), env=st.sampled_from(ENVS[1:]), user=st.sampled_from(ACTORS))
    def promote(self, pick: int, env: str, user: str) -> None:
        if self.versions:
            v = self.versions[pick % len(self.versions)]
            self.attempt(lambda: self.client(user).request_promotion(self.model, v, env))

    @rule(env=st.sampled_from(ENVS), user=st.sampled_from(ACTORS), pick=st.one_of(st.none(), st.integers(0, 50)))
    def rollback(self, env: str, user: str, pick: int | None) -> None:
        if not self.versions:
            return
        to = self.versions[pick % len(self.versions)] if pick is not None and self.versions else None
        done = self.attempt(lambda: self.client(user).rollback(self.model, env, to_version=to))
        if done is not None:
            assert done["version"] not in self.tampered_at, "rollback made changed bytes live"

    @rule(pick=st.integers(0, 50), env=st.sampled_from(ENVS), user=st.sampled_from(ACTORS), only=st.booleans())
    def revoke(self, pick: int, env: str, user: str, only: bool) -> None:
        if self.versions:
            v = self.versions[pick % len(self.versions)]
            self.attempt(lambda: self.client(user).revoke(self.model, v, env, reason="property test", only_env=only))

    @rule(pick=st.integers(0, 50), env=st.sampled_from(ENVS), user=st.sampled_from(["erin", "rita"]))
    def break_glass(self, pick: int, env: str, user: str) -> None:
        if self.versions:
            v = self.versions[pick % len(self.versions)]
            self.attempt(lambda: self.client(user).break_glass(self.model, v, env, justification="outage, fix needed now"))

    @rule(pick=st.integers(0, 50))
    def tamper(self, pick: int) -> None:
        if self.files:
            v = sorted(self.files)[pick % len(self.files)]
            self.files[v].write_bytes(b"swapped after approval")
            self.tampered_at.setdefault(v, self.clock.now())

    @rule(hours=st.sampled_from([1, 3, 13]))
    def wait(self, hours: int) -> None:
        self.clock.advance(hours=hours)

    # --- the invariant ----------------------------------------------------------------------

    @invariant()
    def every_live_pointer_is_explained(self) -> None:
        if self.ctx is None:
            return
        with self.ctx.engine.connect() as conn:
            for live in conn.execute(select(LiveRow).where(LiveRow.model_name == self.model)).all():
                self._explained(conn, live)

    def _explained(self, conn: Any, live: Any) -> None:
        env = live.env
        version = conn.execute(select(VersionRow).where(VersionRow.id == live.version_id)).one()
        assert live.digest == version.digest, "the live digest is the registered one"
        history = conn.execute(select(PromotionRow).where(PromotionRow.env == env, PromotionRow.model_id == version.model_id)
                               .order_by(PromotionRow.id)).all()
        last = history[-1]
        assert last.version_id == live.version_id
        if last.kind in ("rollback", "revoke"):
            # Back to a version that was made live there by an approval or break-glass before.
            earlier = [h for h in history[:-1] if h.version_id == live.version_id
                       and h.kind in (*MADE_LIVE_BY_APPROVAL, "break_glass")]
            assert earlier, f"{last.kind} made v{version.number} live in {env} without an earlier approval"
            last = earlier[-1]
        if last.kind == "break_glass":
            self._break_glass_held(conn, version, env, last)
        else:
            assert last.kind in MADE_LIVE_BY_APPROVAL, last.kind
            self._approval_held(conn, version, env, last)

    def _break_glass_held(self, conn: Any, version: Any, env: str, move: Any) -> None:
        entries = conn.execute(select(AuditRow).where(AuditRow.action == "promotion.break_glass",
                                                      AuditRow.subject == f"models/{self.model}/versions/{version.number}")).all()
        assert any(e.after.get("env") == env for e in entries), "break-glass without its audit entry"
        assert "emergency" in USERS[move.actor]["groups"]
        rejected_before = conn.execute(
            select(DecisionRow).join(RequestRow, RequestRow.id == DecisionRow.request_id)
            .where(RequestRow.version_id == version.id, DecisionRow.verdict == "reject", DecisionRow.at <= move.at)
        ).all()
        assert not rejected_before, "break-glass over a rejection"

    def _approval_held(self, conn: Any, version: Any, env: str, move: Any) -> None:
        assert self.ctx is not None
        policy = self.ctx.workflow.policy(env)
        request = conn.execute(select(RequestRow).where(RequestRow.id == move.request_id)).one()
        assert (request.version_id, request.env, request.state) == (version.id, env, RequestState.APPROVED.value)
        decisions = conn.execute(select(DecisionRow).where(DecisionRow.request_id == request.id)).all()
        approvals = [d for d in decisions if d.verdict == "approve"]
        assert approvals and not [d for d in decisions if d.verdict == "reject"]
        assert request.digest == version.digest and (version.digest is not None or not policy.require_digest)
        assert all(g["passed"] for g in request.gate_results), "approved over a failing gate"
        closed_at = max(d.at for d in approvals)
        for d in approvals:
            assert frozen_by(policy.freeze, d.at) is None, "approved inside a freeze window"
        if move.kind == "auto_approve":
            assert policy.auto_approve and [d.actor for d in approvals] == ["signoff:auto-approve"]
        else:
            members = [d for d in approvals if set(d.groups) & set(policy.approvers)]
            assert len(members) == len(approvals), "an approval by a non-member"
            if policy.quorum == "each-group":
                assert set().union(*(set(d.groups) for d in approvals)) >= set(policy.approvers)
            else:
                assert len({d.actor for d in approvals}) >= policy.required_approvals
            if not policy.registrant_may_approve:
                assert version.registered_by not in {d.actor for d in approvals}, "the registrant approved"
        previous = self.ctx.workflow.previous(env)
        if previous is None:
            return
        prior = conn.execute(select(PromotionRow).where(PromotionRow.env == previous,
                                                        PromotionRow.version_id == version.id,
                                                        PromotionRow.at <= closed_at)
                             .order_by(PromotionRow.id)).all()
        made_live = [p for p in prior if p.kind in (*MADE_LIVE_BY_APPROVAL, "break_glass")]
        assert made_live, f"approved in {env} before it was approved in {previous}"
        if policy.min_soak is not None:
            since = prior[-1].at
            assert closed_at - since >= policy.min_soak, "approved before the soak time"
        if policy.distinct_from_previous_stage and move.kind != "auto_approve":
            before = conn.execute(
                select(DecisionRow.actor).join(RequestRow, RequestRow.id == DecisionRow.request_id)
                .where(RequestRow.version_id == version.id, RequestRow.env == previous,
                       RequestRow.state == "approved", DecisionRow.verdict == "approve")
            ).scalars().all()
            assert not set(before) & {d.actor for d in approvals}, "the same person approved two stages"


def test_every_live_pointer_is_explained_by_an_approval_that_held(tmp_path: Path) -> None:
    Integrity.home, Integrity.database_url = tmp_path, database_url_for(tmp_path / "property.db")
    # Each example bootstraps its own context (its policies): a few times dearer on PostgreSQL.
    run_state_machine_as_test(Integrity, settings=settings(
        max_examples=15 if on_postgres() else 40, stateful_step_count=30, deadline=None, database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    ))


def test_the_invariant_catches_a_pointer_moved_behind_the_services_back(tmp_path: Path) -> None:
    """The checker is worth something only if it fails: a live row written by hand is caught."""
    Integrity.home, Integrity.database_url = tmp_path, database_url_for(tmp_path / "property.db")
    machine = Integrity()
    config = {env: {"approvers": ["ml-leads", "risk-office"] if env == "prod" else ["ml-reviewers"]} for env in ENVS}
    machine.start(config=config)
    try:
        machine.register(kind="digest", accuracy=0.95, user="dana")
        machine.decide(pick=0, user="rita", approve=True)
        machine.every_live_pointer_is_explained()
        assert machine.ctx is not None
        with machine.ctx.engine.begin() as conn:
            model_id = conn.execute(select(ModelRow.id).where(ModelRow.name == machine.model)).scalar_one()
            live = conn.execute(select(LiveRow).where(LiveRow.model_name == machine.model, LiveRow.env == "dev")).one()
            conn.execute(LiveRow.__table__.insert().values(
                **{**live._asdict(), "env": "test", "since": START + timedelta(hours=1)}))
            conn.execute(PromotionRow.__table__.insert().values(
                model_id=model_id, env="test", version_id=live.version_id, previous_version_id=None,
                kind="approval", actor="mallory", reason="", request_id=live.request_id, at=START))
        with pytest.raises(AssertionError):
            machine.every_live_pointer_is_explained()
    finally:
        machine.teardown()
