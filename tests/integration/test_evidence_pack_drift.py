"""The evidence pack shows the drift behind a request's evidence: per feature PSI and KS p-value
against the thresholds in force, in the JSON, the printable page and the offline check."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.conftest import unique
from tests.integration.test_attestations import run_offline

from signoff.bootstrap import Context
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import evidence_pack as evidence


def categorical(rows: int, counts: dict[str, int]) -> dict[str, Any]:
    return {"kind": "categorical", "count": rows, "missing": 0, "counts": counts}


REFERENCE = {"rows": 1000, "features": {"country": categorical(1000, {"de": 500, "fr": 500}),
                                        "plan": categorical(1000, {"basic": 700, "pro": 300})}}
SHIFTED = {"rows": 400, "features": {"country": categorical(400, {"de": 360, "fr": 40}),
                                     "plan": categorical(400, {"basic": 280, "pro": 120})}}


def drifted_request(ctx: Context, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    name = unique()
    artifact = tmp_path / "m.bin"
    artifact.write_bytes(b"model")
    dana, rita = EmbeddedClient(actor="dana", context=ctx), EmbeddedClient(actor="rita", context=ctx)
    dana.register(name, str(artifact))
    dana.set_reference(name, 1, REFERENCE)
    rita.approve(name, 1, "dev")
    dana.report_inference(name, 1, "dev", metrics={"accuracy": 0.95}, rows=400, profile=SHIFTED)
    return name, dict(rita.evidence(name, 1))


class TestDriftInTheEvidencePack:
    def test_a_request_from_a_drifted_batch_carries_per_feature_scores_and_thresholds(
        self, ctx: Context, tmp_path: Path
    ) -> None:
        _, pack = drifted_request(ctx, tmp_path)
        [request] = [r for r in pack["requests"] if r["env"] == "test"]
        drift = request["drift"]
        assert drift is not None and drift["env"] == "dev" and drift["psi_threshold"] == 0.2
        assert drift["ks_pvalue"] == 0.01 and drift["drifted"] == ["country"]
        country, plan = drift["features"]["country"], drift["features"]["plan"]
        assert country["drifted"] and country["psi"] >= 0.2 and country["reasons"][0].startswith("PSI ")
        assert not plan["drifted"] and plan["psi"] < 0.2
        [report] = pack["inference_reports"]
        assert report["drift"]["features"] == drift["features"]
        [dev] = [r for r in pack["requests"] if r["env"] == "dev"]
        assert dev["drift"] is None  # evidence from training metrics: no batch behind it

    def test_the_printable_page_lists_each_feature_against_the_threshold(self, ctx: Context, tmp_path: Path) -> None:
        _, pack = drifted_request(ctx, tmp_path)
        html = evidence.render_html(pack)
        assert "PSI threshold 0.2" in html and "KS p-value threshold 0.01" in html
        country = pack["requests"][-1]["drift"]["features"]["country"]
        assert f"<td>country</td><td>categorical</td><td>{country['psi']}</td>" in html
        assert "drift detected" in html

    def test_the_offline_check_refuses_drift_that_differs_from_the_audit_record(
        self, ctx: Context, tmp_path: Path
    ) -> None:
        _, pack = drifted_request(ctx, tmp_path)
        good = tmp_path / "pack.json"
        good.write_text(json.dumps(pack))
        cli = [sys.executable, "-m", "signoff.entrypoints.cli", "verify", "--evidence"]
        ok = run_offline([*cli, str(good)], tmp_path)
        assert ok.returncode == 0, ok.stderr
        pack["requests"][-1]["drift"]["features"]["country"]["psi"] = 0.01
        pack["requests"][-1]["drift"]["features"]["country"]["drifted"] = False
        bad = tmp_path / "doctored.json"
        bad.write_text(json.dumps(pack))
        refused = run_offline([*cli, str(bad)], tmp_path)
        assert refused.returncode == 1 and "drift" in refused.stderr, refused.stderr
