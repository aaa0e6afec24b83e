"""`signoff register --artifact --reference`, `infer`, `rollback`, `revoke`, `promote --break-glass`,
and `signoff demo`, as real processes on a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import database_url_for
from tests.fixtures.models import FEATURES, classification_data, fit_classifier, save_joblib

CONFIG = """
emergency_group = "on-call"
[environments]
order = ["dev", "test", "prod"]
[environments.dev]
approvers = ["ml-reviewers"]
[environments.test]
approvers = ["ml-reviewers"]
gates = ["accuracy >= 0.9"]
[environments.prod]
approvers = ["ml-leads"]
[users.dana]
groups = ["data-science"]
[users.rita]
groups = ["ml-reviewers"]
[users.erin]
groups = ["on-call"]
"""


class Cli:
    def __init__(self, tmp: Path, request: pytest.FixtureRequest | None = None) -> None:
        (tmp / "signoff.toml").write_text(CONFIG)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
        self.env.update(SIGNOFF_CONFIG=str(tmp / "signoff.toml"), SIGNOFF_HOME=str(tmp / ".signoff"),
                        SIGNOFF_DATABASE_URL=database_url_for(tmp / "db.sqlite", request), COLUMNS="200")
        self.cwd = tmp

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "signoff.entrypoints.cli", *args], capture_output=True,
                              text=True, env=self.env, cwd=self.cwd, timeout=120)

    def json(self, *args: str) -> Any:
        out = self(*args, "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


@pytest.fixture(scope="class")
def cli(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Cli:
    """One database through the class: each test goes one step further along the story."""
    tmp = tmp_path_factory.mktemp("cli-inference")
    training = classification_data(n=2000, seed=0)
    training[FEATURES].to_csv(tmp / "training.csv", index=False)
    save_joblib(fit_classifier(training), tmp / "model.joblib")
    classification_data(n=1500, seed=1).to_parquet(tmp / "batch.parquet", index=False)
    shifted = classification_data(n=1500, seed=2)
    shifted["f0"] = shifted["f0"] + 2
    shifted.to_csv(tmp / "shifted.csv", index=False)
    return Cli(tmp, request)


class TestTheCommandLineLoop:
    def test_register_stores_the_artifact_and_the_reference(self, cli: Cli) -> None:
        out = cli("register", "churn", "--artifact", "model.joblib", "--reference", "training.csv", "--as", "dana")
        assert out.returncode == 0, out.stderr
        assert "artifact sha256:" in out.stdout and "flavor sklearn" in out.stdout
        assert "reference profile stored" in out.stdout
        v = cli.json("versions", "churn")[0]
        assert v["digest"].startswith("sha256:") and "/.signoff/artifacts/sha256/" in v["artifact_uri"]
        assert cli("approve", "churn", "1", "--env", "dev", "--as", "rita").returncode == 0

    def test_infer_scores_reports_and_opens_the_next_request(self, cli: Cli) -> None:
        out = cli("infer", "churn", "--env", "dev", "--data", "batch.parquet", "--target", "label",
                  "--batch-size", "400", "--output", "scored.csv", "--as", "dana")
        assert out.returncode == 0, out.stderr
        assert "scored 1,500 rows with churn v1 in dev" in out.stdout
        assert "roc_auc" in out.stdout and "drift" not in out.stdout
        assert "opened promotion request" in out.stdout and "accuracy >= 0.9: pass" in out.stdout
        assert (cli.cwd / "scored.csv").read_text().splitlines()[0].endswith(",prediction")
        [request] = cli.json("requests", "--state", "open", "--env", "test")
        assert request["evidence"]["accuracy"] > 0.9

    def test_infer_json_reports_drift_on_the_shifted_feature(self, cli: Cli) -> None:
        result = cli.json("infer", "churn", "--env", "dev", "--data", "shifted.csv", "--target", "label",
                          "--as", "dana")
        assert result["report"]["drifted_features"] == ["f0"]
        assert result["rows"] == 1500 and set(result["timings"]) >= {"resolve", "load", "predict", "report"}
        events = cli.json("events", "list", "--type", "signoff.drift.detected")
        assert [e["event"]["data"]["drifted_features"] for e in events] == [["f0"]]

    def test_rollback_and_revoke(self, cli: Cli) -> None:
        assert cli("approve", "churn", "1", "--env", "test", "--as", "rita").returncode == 0
        assert cli("register", "churn", "--artifact", "model.joblib", "--as", "dana").returncode == 0
        assert cli("approve", "churn", "2", "--env", "dev", "--as", "rita").returncode == 0
        out = cli("rollback", "churn", "--env", "dev", "--reason", "v2 is slow", "--as", "rita")
        assert out.returncode == 0, out.stderr
        assert "version 2 → 1" in out.stdout
        refused = cli("rollback", "churn", "--env", "dev", "--as", "dana")
        assert refused.returncode == 5 and "approver group for dev" in refused.stderr
        out = cli("revoke", "churn", "1", "--env", "dev", "--reason", "label leak", "--as", "rita")
        assert out.returncode == 0, out.stderr
        assert "now version 2 is live" in out.stdout
        assert cli.json("resolve", "churn", "--env", "dev")["version"] == 2

    def test_promote_with_break_glass(self, cli: Cli) -> None:
        refused = cli("promote", "churn", "1", "--env", "prod", "--break-glass", "--justification",
                      "INC-1: prod is down", "--as", "dana")
        assert refused.returncode == 5 and "emergency group 'on-call'" in refused.stderr
        revoked = cli("promote", "churn", "1", "--env", "prod", "--break-glass", "--justification",
                      "INC-1: prod is down", "--as", "erin")
        assert revoked.returncode == 4 and "revocation is final" in revoked.stderr  # v1 was revoked in dev and test
        out = cli("promote", "churn", "2", "--env", "prod", "--break-glass", "--justification",
                  "INC-1: prod is down", "--as", "erin")
        assert out.returncode == 0, out.stderr
        assert "BREAK-GLASS" in out.stderr and "skipped approvals in: test, prod" in out.stderr
        assert cli.json("resolve", "churn", "--env", "prod")["version"] == 2

    def test_a_tampered_artifact_is_refused_by_infer(self, cli: Cli) -> None:
        uri = cli.json("resolve", "churn", "--env", "prod")["artifact_uri"]
        stored = Path(uri.removeprefix("file://"))
        stored.write_bytes(stored.read_bytes() + b"!")
        out = cli("infer", "churn", "--env", "prod", "--data", "batch.parquet", "--as", "erin")
        assert out.returncode == 4 and "refusing to load it" in out.stderr
        assert cli.json("audit", "verify")["ok"]


@pytest.mark.sqlite_only  # `signoff demo` always uses a temporary SQLite file: nothing to vary
class TestTheDemo:
    def test_signoff_demo_runs_the_whole_story_in_under_a_minute(self, tmp_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
        env["COLUMNS"] = "160"
        started = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "signoff.entrypoints.cli", "demo"], capture_output=True,
                             text=True, env=env, cwd=tmp_path, timeout=120)
        elapsed = time.monotonic() - started
        assert out.returncode == 0, out.stderr
        for line in ("signoff infer in dev", "drift in 10 features", "refused (gate_failed)",
                     "rejects version 2 in test", "BREAK-GLASS", "prod: version 3 → 1", "refused (artifact_mismatch)",
                     "audit chain: ok"):
            assert line in out.stdout, line
        assert "That story ran in a throw-away database" in out.stdout
        script = Path(sys.executable).with_name("signoff")
        assert any(f"{hint} server --demo (or make run)" in out.stdout for hint in (str(script), "signoff")), out.stdout[-400:]
        assert elapsed < 60, elapsed
