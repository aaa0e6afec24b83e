"""The evidence pack: what it holds, its printable and PDF forms (rendered with pdftoppm), and the
JSON form re-checked offline by `signoff verify --evidence` in a process without a database."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from signoff.bootstrap import Context
from signoff.entrypoints.api import create_app
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import evidence_pack as evidence
from signoff.services import tokens
from tests.e2e.test_esignatures import ENVS, MEANINGS, PASSWORDS, open_request, signing_ctx  # noqa: F401
from tests.integration.test_attestations import run_offline


@pytest.fixture
def pack(signing_ctx: Context, tmp_path: Path) -> dict[str, Any]:  # noqa: F811
    name, request_id = open_request(signing_ctx, tmp_path)
    token, _ = tokens.create_token(uow=signing_ctx.uow(), user="rita", scopes=["decide"], actor="test")
    with TestClient(create_app(signing_ctx)) as http:
        r = http.post(f"/api/v1/approval-requests/{request_id}/decisions", headers={"Authorization": f"Bearer {token}"},
                      json={"decision": "approve", "password": PASSWORDS["rita"], "meaning": MEANINGS[1]})
        assert r.status_code == 201, r.text
    return dict(EmbeddedClient(actor="rita", context=signing_ctx).evidence(name, 1))


class TestContents:
    def test_the_pack_holds_the_decision_its_signature_history_audit_attestation_and_keys(
        self, pack: dict[str, Any]
    ) -> None:
        [request] = pack["requests"]
        [signature] = request["signatures"]
        assert (signature["full_name"], signature["meaning"], signature["signed_at"]) == \
            ("rita", MEANINGS[1], "2026-11-25T12:00:00Z")
        assert request["evidence_sha256"] and request["gate_results"] == [] and request["state"] == "approved"
        assert [m["change"] for m in pack["live_history"]["dev"]] == ["approval"]
        actions = [e["action"] for e in pack["audit"]["entries"]]
        assert {"version.registered", "approval.approved", "signature.signed", "live.moved"} <= set(actions)
        assert pack["audit"]["verification"]["ok"] and pack["audit"]["checkpoint"]["payloadType"].endswith("checkpoint+json")
        assert [a["env"] for a in pack["attestations"]] == ["dev"]
        assert pack["public_keys"]["keys"][0]["keyid"] == pack["attestations"][0]["keyid"]


class TestForms:
    def test_the_html_prints_and_the_pdf_renders(self, pack: dict[str, Any], tmp_path: Path) -> None:
        html = evidence.render_html(pack)
        assert "@page" in html and "rita</strong> (rita, user id" in html and MEANINGS[1] in html
        pdf = tmp_path / "pack.pdf"
        pdf.write_bytes(evidence.render_pdf(pack))
        if shutil.which("pdftoppm") is None:
            pytest.fail("pdftoppm (poppler-utils) is needed to check the PDF")
        subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / "page")], check=True, timeout=60)
        pages = sorted(tmp_path.glob("page-*.png"))
        assert pages and all(p.stat().st_size > 1000 for p in pages)
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "Evidence pack:" in text and MEANINGS[1] in text and "2026-11-25 12:00:00 UTC" in text

    def test_the_json_rechecks_offline_and_a_doctored_pack_is_refused(self, pack: dict[str, Any],
                                                                      tmp_path: Path) -> None:
        good = tmp_path / "pack.json"
        good.write_text(json.dumps(pack))
        keys = tmp_path / "keys.json"
        keys.write_text(json.dumps(pack["public_keys"]))
        cli = [sys.executable, "-m", "signoff.entrypoints.cli", "verify", "--evidence"]
        ok = run_offline([*cli, str(good), "--keys", str(keys)], tmp_path)
        assert ok.returncode == 0 and "1 attestations, 1 signatures" in ok.stdout, ok.stderr
        doctored = json.loads(json.dumps(pack))
        doctored["requests"][0]["signatures"][0]["meaning"] = MEANINGS[0]
        bad = tmp_path / "doctored.json"
        bad.write_text(json.dumps(doctored))
        refused = run_offline([*cli, str(bad), "--keys", str(keys)], tmp_path)
        assert refused.returncode == 1 and "does not match what it signed" in refused.stderr
        doctored = json.loads(json.dumps(pack))
        doctored["audit"]["entries"][0]["actor"] = "mallory"
        bad.write_text(json.dumps(doctored))
        refused = run_offline([*cli, str(bad), "--keys", str(keys)], tmp_path)
        assert refused.returncode == 1 and "does not match its hash" in refused.stderr

    def test_the_version_page_offers_the_downloads(self, signing_ctx: Context, pack: dict[str, Any]) -> None:  # noqa: F811
        model = pack["version"]["model"]
        with TestClient(create_app(signing_ctx)) as http:
            signed_in = http.post("/signin", data={"name": "rita", "password": PASSWORDS["rita"],
                                                   "csrf_token": _signin_csrf(http)}, follow_redirects=False)
            assert signed_in.status_code == 303, signed_in.text
            page = http.get(f"/models/{model}/versions/1")
            assert f'/models/{model}/versions/1/evidence.pdf' in page.text
            pdf = http.get(f"/models/{model}/versions/1/evidence.pdf")
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
            assert pdf.headers["content-disposition"] == f'attachment; filename="evidence-{model}-v1.pdf"'
            as_json = http.get(f"/models/{model}/versions/1/evidence.json").json()
            assert as_json["format"] == "signoff-evidence-pack/v1"


def _signin_csrf(http: TestClient) -> str:
    import re

    page = http.get("/signin")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)
