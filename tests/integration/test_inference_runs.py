"""`run_batch`: resolve, load, predict in batches, score, profile, report — and what the report opens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from signoff.bootstrap import Context
from signoff.domain import events
from signoff.errors import InvalidInput, NotFound
from signoff.inference import read_table, run_batch
from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import DIGEST, unique
from tests.fixtures.models import (
    FEATURES,
    classification_data,
    fit_classifier,
    fit_regressor,
    regression_data,
    save_joblib,
)


class Team:
    def __init__(self, ctx: Context) -> None:
        self.dana = EmbeddedClient(actor="dana", context=ctx)
        self.rita = EmbeddedClient(actor="rita", context=ctx)

    def live(self, artifact: Path, reference: object = None, owner_group: str | None = "data-science") -> str:
        name = unique("infer")
        self.dana.register(name, str(artifact), reference=reference, owner_group=owner_group)
        self.rita.approve(name, 1, "dev")
        return name


@pytest.fixture
def team(ctx: Context) -> Team:
    return Team(ctx)


class TestClassificationBatches:
    def test_metrics_are_computed_and_the_report_opens_the_test_request(self, team: Team, tmp_path: Path) -> None:
        name = team.live(save_joblib(fit_classifier(), tmp_path / "clf.joblib"))
        data = tmp_path / "batch.csv"
        classification_data(n=400, seed=3).to_csv(data, index=False)
        result = run_batch(team.dana, name, "dev", str(data), target="label")
        assert set(result.metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
        assert result.metrics["accuracy"] > 0.9 and result.rows == 400 and result.version == 1
        assert result.report is not None and result.report["rows"] == 400
        request = team.dana.open_request(name, 1, "test")
        assert request.evidence == result.metrics
        assert [g["gate"] for g in request.gate_results] == ["accuracy >= 0.9"]
        assert request.gate_results[0]["passed"]
        completed = [e.event["data"] for e in team.dana.events(type=events.INFERENCE_COMPLETED)]
        assert completed[-1]["model"] == name and completed[-1]["metrics"] == result.metrics

    def test_batches_give_the_same_predictions_as_one_call_and_report_progress(self, team: Team, tmp_path: Path) -> None:
        model = fit_classifier()
        name = team.live(save_joblib(model, tmp_path / "clf.joblib"))
        frame = classification_data(n=1000, seed=4)
        seen: list[tuple[int, int]] = []
        result = run_batch(team.dana, name, "dev", frame, target="label", batch_size=300,
                           progress=lambda done, total: seen.append((done, total)), report=False)
        assert seen == [(300, 1000), (600, 1000), (900, 1000), (1000, 1000)]
        assert np.array_equal(result.predictions, model.predict(frame[FEATURES]))
        assert result.report is None

    def test_the_output_file_holds_the_rows_and_their_predictions(self, team: Team, tmp_path: Path) -> None:
        name = team.live(save_joblib(fit_classifier(), tmp_path / "clf.joblib"))
        frame = classification_data(n=200, seed=5)
        frame.to_parquet(tmp_path / "in.parquet", index=False)
        result = run_batch(team.dana, name, "dev", str(tmp_path / "in.parquet"), output=tmp_path / "out.csv")
        written = pd.read_csv(tmp_path / "out.csv")
        assert list(written.columns) == [*frame.columns, "prediction"]
        assert np.array_equal(written["prediction"].to_numpy(), result.predictions)
        assert result.metrics == {}  # no target: nothing to score, but the report is still sent
        assert result.report is not None and result.report["rows"] == 200

    def test_string_labels_use_the_greater_label_as_positive(self, team: Team, tmp_path: Path) -> None:
        from sklearn.linear_model import LogisticRegression

        data = classification_data(n=500, seed=6)
        data["label"] = np.where(data["label"] == 1, "yes", "no")
        name = team.live(save_joblib(LogisticRegression().fit(data[FEATURES], data["label"]), tmp_path / "s.pkl"))
        result = run_batch(team.dana, name, "dev", data, target="label", report=False)
        assert result.metrics["roc_auc"] > 0.9 and result.metrics["f1"] > 0.9


class TestRegressionBatches:
    def test_rmse_mae_and_r2_are_reported(self, team: Team, tmp_path: Path) -> None:
        name = team.live(save_joblib(fit_regressor(), tmp_path / "reg.joblib"))
        regression_data(n=300, seed=7).to_parquet(tmp_path / "batch.parquet", index=False)
        result = run_batch(team.dana, name, "dev", str(tmp_path / "batch.parquet"), target="target")
        assert set(result.metrics) == {"rmse", "mae", "r2"}
        assert result.metrics["r2"] > 0.99 and result.metrics["rmse"] < 0.2


class TestRefusals:
    def test_nothing_live_is_not_found(self, team: Team) -> None:
        name = unique("infer")
        team.dana.register(name, "s3://b/never-approved.pkl", digest=DIGEST)
        with pytest.raises(NotFound, match="no version"):
            run_batch(team.dana, name, "dev", classification_data(n=10))

    def test_a_missing_target_column_is_invalid(self, team: Team, tmp_path: Path) -> None:
        name = team.live(save_joblib(fit_classifier(), tmp_path / "clf.joblib"))
        with pytest.raises(InvalidInput, match="target column"):
            run_batch(team.dana, name, "dev", classification_data(n=10), target="churned")

    def test_an_unknown_data_format_is_invalid(self, tmp_path: Path) -> None:
        with pytest.raises(InvalidInput, match="csv or .parquet"):
            read_table(tmp_path / "data.xlsx")

    def test_a_missing_data_file_is_not_found(self, tmp_path: Path) -> None:
        with pytest.raises(NotFound):
            read_table(tmp_path / "absent.csv")


class TestDriftOnReports:
    def test_a_batch_like_the_training_data_raises_no_alarm(self, team: Team, tmp_path: Path) -> None:
        training = classification_data(n=3000, seed=10)
        name = team.live(save_joblib(fit_classifier(training), tmp_path / "clf.joblib"), reference=training[FEATURES])
        result = run_batch(team.dana, name, "dev", classification_data(n=2000, seed=11), target="label")
        assert result.drifted_features == []
        assert result.report is not None and result.report["drift"]["features"]["f0"]["psi"] < 0.05
        assert team.dana.events(type=events.DRIFT_DETECTED) == []

    def test_shifted_features_are_flagged_announced_and_audited(self, team: Team, tmp_path: Path) -> None:
        training = classification_data(n=3000, seed=20)
        name = team.live(save_joblib(fit_classifier(training), tmp_path / "clf.joblib"), reference=training[FEATURES])
        batch = classification_data(n=2000, seed=21)
        batch["f1"] = batch["f1"] + 1.0
        batch["f3"] = batch["f3"] * 2.0
        result = run_batch(team.dana, name, "dev", batch, target="label")
        assert result.drifted_features == ["f1", "f3"]
        detected = [e.event["data"] for e in team.dana.events(type=events.DRIFT_DETECTED)]
        assert len(detected) == 1
        data = detected[0]
        assert (data["model"], data["env"], data["owner_group"]) == (name, "dev", "data-science")
        assert data["drifted_features"] == ["f1", "f3"]
        assert data["features"]["f1"]["psi"] > 0.2 and data["features"]["f0"]["drifted"] is False
        assert any(e.action == "drift.detected" for e in team.dana.audit(model=name))

    def test_the_thresholds_come_from_the_environment_policy(self, tmp_path: Path, clock: object) -> None:
        from signoff.bootstrap import bootstrap
        from tests.conftest import ENVIRONMENTS, make_settings

        lenient = {**ENVIRONMENTS, "dev": {"approvers": ["ml-reviewers"], "drift_psi_threshold": 50.0,
                                           "drift_ks_pvalue": 1e-300}}
        ctx = bootstrap(make_settings(tmp_path, environments=lenient), clock=clock)  # type: ignore[arg-type]
        try:
            team = Team(ctx)
            training = classification_data(n=3000, seed=30)
            name = team.live(save_joblib(fit_classifier(training), tmp_path / "c.joblib"), reference=training[FEATURES])
            batch = classification_data(n=2000, seed=31).assign(f1=lambda d: d["f1"] + 1.0)
            assert run_batch(team.dana, name, "dev", batch, target="label").drifted_features == []
        finally:
            ctx.close()

    def test_a_reference_can_be_attached_after_registration(self, team: Team, tmp_path: Path) -> None:
        training = classification_data(n=3000, seed=40)
        name = team.live(save_joblib(fit_classifier(training), tmp_path / "clf.joblib"))
        training[FEATURES].to_csv(tmp_path / "training.csv", index=False)
        team.dana.set_reference(name, 1, str(tmp_path / "training.csv"))
        batch = classification_data(n=2000, seed=41).assign(f2=lambda d: d["f2"] - 1.5)
        assert run_batch(team.dana, name, "dev", batch, report=True).drifted_features == ["f2"]


class TestTheDocumentedRetrainingRule:
    def test_it_parses_and_matches_a_real_drift_event_in_prod_only(self, team: Team, tmp_path: Path) -> None:
        import re
        import tomllib

        from signoff.domain.patterns import compile_pattern
        from signoff.domain.rules import parse_rule

        docs = (Path(__file__).parents[2] / "docs" / "inference.md").read_text()
        block = next(b for b in re.findall(r"```toml\n(.*?)```", docs, re.S) if "[[rules]]" in b)
        [rule] = [parse_rule(r) for r in tomllib.loads(block)["rules"]]
        assert rule.targets[0].type == "webhook"
        training = classification_data(n=3000, seed=50)
        name = "churn-" + unique("doc")
        team.dana.register(name, str(save_joblib(fit_classifier(training), tmp_path / "c.joblib")),
                           reference=training[FEATURES])
        team.rita.approve(name, 1, "dev")
        run_batch(team.dana, name, "dev", classification_data(n=1000, seed=51).assign(f0=lambda d: d["f0"] + 2))
        [event] = [e.event for e in team.dana.events(type=events.DRIFT_DETECTED)]
        pattern = compile_pattern(rule.pattern)
        assert not pattern.matches(event)  # drift in dev: not this rule's business
        assert pattern.matches({**event, "data": {**event["data"], "env": "prod"}})
