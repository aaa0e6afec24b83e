"""The read models behind the pictures: live timelines, metric trends, comparisons, drift of a
batch and what a decision would do, on the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from signoff.bootstrap import Context
from signoff.domain.drift import profile_columns
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import approvals, drift_view, history, outlook
from tests.conftest import artifact_file, unique


def clients(ctx: Context) -> dict[str, EmbeddedClient]:
    return {u: EmbeddedClient(actor=u, context=ctx) for u in ("dana", "rita", "ron", "erin", "paula")}


def register(ctx: Context, tmp_path: Path, model: str, n: int, **extra: Any) -> None:
    EmbeddedClient(actor="dana", context=ctx).register(
        model, artifact_file(tmp_path, f"{model}-{n}"), metrics=extra.pop("metrics", {"accuracy": 0.9 + n / 100}),
        run_id=f"run-{n}", code_commit=f"c{n}", **extra)


class TestLiveTimeline:
    def test_each_environment_lists_its_periods_with_how_each_began(self, ctx: Context, clock: Any, tmp_path: Path) -> None:
        model, c = unique("tl"), clients(ctx)
        register(ctx, tmp_path, model, 1)
        clock.advance(hours=1)
        c["rita"].approve(model, 1, "dev")
        register(ctx, tmp_path, model, 2)
        clock.advance(hours=2)
        c["ron"].approve(model, 2, "dev")
        clock.advance(hours=3)
        c["rita"].rollback(model, "dev", reason="v2 is worse")
        clock.advance(hours=1)
        c["erin"].break_glass(model, 2, "prod", justification="INC-1: v2 is the fix")
        clock.advance(hours=1)
        found = history.live_timeline(uow=ctx.read_uow(), workflow=ctx.workflow, model=model, now=clock.now())
        lanes = {lane["env"]: lane["segments"] for lane in found["envs"]}
        assert list(lanes) == ["dev", "test", "uat", "prod"]
        dev = lanes["dev"]
        assert [(s["version"], s["kind"], s["actor"]) for s in dev] == [(1, "approval", "rita"), (2, "approval", "ron"),
                                                                        (1, "rollback", "rita")]
        assert [s["end"] for s in dev[:-1]] == [s["start"] for s in dev[1:]] and dev[-1]["end"] is None
        assert dev[2]["previous"] == 2 and dev[2]["reason"] == "v2 is worse"
        assert [(s["version"], s["kind"]) for s in lanes["prod"]] == [(2, "break_glass")]
        assert lanes["test"] == [] and found["moves"] == 4 and found["end"] == clock.now()

    def test_a_model_with_nothing_ever_live_has_empty_lanes(self, ctx: Context, clock: Any, tmp_path: Path) -> None:
        model = unique("tl")
        register(ctx, tmp_path, model, 1)
        found = history.live_timeline(uow=ctx.read_uow(), workflow=ctx.workflow, model=model, now=clock.now())
        assert found["moves"] == 0 and all(lane["segments"] == [] for lane in found["envs"])


class TestMetricTrendsAndComparison:
    def test_training_and_each_environments_latest_report_per_version(self, ctx: Context, tmp_path: Path) -> None:
        model, c = unique("tr"), clients(ctx)
        register(ctx, tmp_path, model, 1, metrics={"accuracy": 0.91, "f1": 0.9})
        c["rita"].approve(model, 1, "dev")
        c["dana"].report_inference(model, 1, "dev", metrics={"accuracy": 0.5}, rows=10)
        c["dana"].report_inference(model, 1, "dev", metrics={"accuracy": 0.89}, rows=10)  # the latest counts
        register(ctx, tmp_path, model, 2, metrics={"accuracy": 0.93})
        found = history.metric_trends(uow=ctx.read_uow(), workflow=ctx.workflow, model=model)
        assert found["versions"] == [1, 2] and found["live"] == {"dev": 1} and found["report_envs"] == ["dev"]
        by_name = {m["name"]: m for m in found["metrics"]}
        assert set(by_name) == {"accuracy", "f1"}
        assert by_name["accuracy"]["training"] == {1: 0.91, 2: 0.93}
        assert by_name["accuracy"]["inference"] == {"dev": {1: 0.89}}
        assert history.metric_trends(uow=ctx.read_uow(), workflow=ctx.workflow, model=model, limit=1)["versions"] == [2]

    def test_comparison_marks_what_changed(self, ctx: Context, tmp_path: Path) -> None:
        model = unique("cmp")
        register(ctx, tmp_path, model, 1, metadata={"algo": "lr", "params": {"C": 1}})
        register(ctx, tmp_path, model, 2, metadata={"algo": "lr", "params": {"C": 2}, "new": [1, 2]})
        found = history.compare_versions(uow=ctx.read_uow(), workflow=ctx.workflow, model=model, a=1, b=2)
        facts = {f["field"]: f for f in found["facts"]}
        assert facts["metadata.algo"]["same"] and not facts["metadata.params.C"]["same"]
        assert facts["metadata.new"]["a"] is None and facts["metadata.new"]["b"] == "[1, 2]"
        assert not facts["code commit"]["same"] and not facts["artifact digest"]["same"]
        [accuracy] = found["metrics"]
        assert accuracy["source"] == "training" and round(accuracy["delta"], 6) == 0.01
        assert [s["env"] for s in found["stages"]] == ["dev", "test", "uat", "prod"]


FEATURES = [f"f{i}" for i in range(6)]


def columns(seed: int, rows: int, scaled: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {f: rng.normal(5 + i, 1, rows) * (1000 if i < scaled else 1) for i, f in enumerate(FEATURES)}


class TestBatchDrift:
    def test_scores_every_feature_and_draws_the_drifted_ones(self, ctx: Context, tmp_path: Path) -> None:
        model, c = unique("dr"), clients(ctx)
        register(ctx, tmp_path, model, 1, reference=profile_columns(columns(1, 1000, 0)))
        c["rita"].approve(model, 1, "dev")
        report = c["dana"].report_inference(model, 1, "dev", metrics={"accuracy": 0.9}, rows=500,
                                            profile=profile_columns(columns(2, 500, 2)))
        found = drift_view.batch_drift(uow=ctx.read_uow(), workflow=ctx.workflow, model=model, version=1,
                                       report_id=report.id)
        assert found is not None
        assert found["drifted"] == ["f0", "f1"] and [f["name"] for f in found["features"][:2]] == ["f0", "f1"]
        assert found["psi_threshold"] == 0.2 and found["ks_threshold"] == 0.01 / 6
        assert [d["name"] for d in found["distributions"]] == ["f0", "f1"]
        bins = found["distributions"][0]["bins"]
        assert len(bins) == 10 and bins[-1]["label"].startswith("≥ ") and bins[-1]["current"] == 1.0
        assert abs(sum(b["reference"] for b in bins) - 1) < 1e-6
        # the request the report opened shows the same drift; a report of another version shows none
        request = approvals.find_open_request(uow=ctx.read_uow(), workflow=ctx.workflow, model=model, version=1,
                                              env="test").to_dict()
        assert drift_view.request_drift(uow=ctx.read_uow(), workflow=ctx.workflow, request=request)["drifted"] == ["f0", "f1"]
        register(ctx, tmp_path, model, 2)
        assert drift_view.batch_drift(uow=ctx.read_uow(), workflow=ctx.workflow, model=model, version=2,
                                      report_id=report.id) is None


class TestDecisionOutlook:
    def outlook_for(self, ctx: Context, model: str, version: int, env: str, viewer: str) -> dict[str, Any]:
        request = approvals.find_open_request(uow=ctx.read_uow(), workflow=ctx.workflow, model=model,
                                              version=version, env=env)
        return outlook.decision_outlook(uow=ctx.read_uow(), workflow=ctx.workflow, request=request, viewer=viewer)

    def test_says_whether_approving_makes_the_version_live_and_who_is_asked_next(
        self, ctx: Context, tmp_path: Path,
    ) -> None:
        model, c = unique("ol"), clients(ctx)
        register(ctx, tmp_path, model, 1)
        said = self.outlook_for(ctx, model, 1, "dev", "rita")
        assert said["completes"] and said["approve"] == (
            "v1 becomes the first version live in dev. The test approvers (ml-reviewers) are asked next, "
            "once an inference report from dev arrives.")
        assert said["reject"].startswith("v1 is rejected in dev and it stops there and cannot go on to test, uat, prod")
        c["rita"].approve(model, 1, "dev")
        register(ctx, tmp_path, model, 2)
        assert self.outlook_for(ctx, model, 2, "dev", "ron")["approve"].startswith("v2 becomes live in dev, replacing v1.")

    def test_one_approval_of_several_says_what_is_still_missing(self, ctx: Context, tmp_path: Path) -> None:
        model, c = unique("ol"), clients(ctx)
        register(ctx, tmp_path, model, 1)
        for env, who in (("dev", "rita"), ("test", "ron")):
            if env != "dev":
                c["dana"].request_promotion(model, 1, env, reason="by hand")
            c[who].approve(model, 1, env)
        c["dana"].request_promotion(model, 1, "uat", reason="by hand")
        EmbeddedClient(actor="uma", context=ctx).approve(model, 1, "uat")
        c["dana"].request_promotion(model, 1, "prod", reason="by hand")
        said = self.outlook_for(ctx, model, 1, "prod", "paula")
        assert not said["completes"]
        assert said["approve"] == ("Your approval counts towards prod's quorum; after it the request still needs one "
                                   "approval from each of risk-office. v1 goes live in prod once it has them.")

    def test_after_the_decision_it_says_what_happened(self, ctx: Context, tmp_path: Path) -> None:
        model, c = unique("ol"), clients(ctx)
        register(ctx, tmp_path, model, 1)
        request = c["rita"].approve(model, 1, "dev")
        entity = approvals.get_request(uow=ctx.read_uow(), workflow=ctx.workflow, request_id=request.id)
        said = outlook.decision_outlook(uow=ctx.read_uow(), workflow=ctx.workflow, request=entity, viewer="rita")
        assert said["outcome"].startswith("v1 is live in dev now. The test approvers")
        register(ctx, tmp_path, model, 2)
        rejected = c["ron"].reject(model, 2, "dev", comment="no")
        entity = approvals.get_request(uow=ctx.read_uow(), workflow=ctx.workflow, request_id=rejected.id)
        said = outlook.decision_outlook(uow=ctx.read_uow(), workflow=ctx.workflow, request=entity, viewer="ron")
        assert said["outcome"] == "v2 was rejected in dev by ron: it stops there and cannot go on to test, uat, prod."
