"""Decisions made before an environment required electronic signatures (its policy switched to
`signature = "reauth"`, or `[signing] part11 = true`, later) stay valid records: `audit verify`
reports each as "unsigned (made before signatures were required)" as a warning, not a break,
and the evidence pack and version page say so in words."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from tests.conftest import ENVIRONMENTS, make_settings, unique
from tests.e2e.test_esignatures import PASSWORDS, users_with_passwords

from signoff.bootstrap import Context, bootstrap
from signoff.entrypoints.api import create_app
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import evidence_pack
from signoff.services.ports import FixedClock

UNSIGNED = "unsigned (made before signatures were required)"


def decided_then_signing_required(tmp_path: Path, clock: FixedClock, **later: object) -> tuple[str, Context]:
    """rita approves in dev while dev needs no signature; the same database is then opened with
    signing required (by `later` settings)."""
    name = unique()
    artifact = tmp_path / "m.bin"
    artifact.write_bytes(os.urandom(32))
    before = bootstrap(make_settings(tmp_path, users=users_with_passwords()), clock=clock)
    try:
        EmbeddedClient(actor="dana", context=before).register(name, str(artifact))
        EmbeddedClient(actor="rita", context=before).approve(name, 1, "dev")
    finally:
        before.close()
    return name, bootstrap(make_settings(tmp_path, users=users_with_passwords(), **later), clock=clock)


class TestAuditVerify:
    def test_an_unsigned_decision_in_an_environment_that_now_signs_is_a_warning(
        self, tmp_path: Path, clock: FixedClock
    ) -> None:
        signs = {**ENVIRONMENTS, "dev": {**ENVIRONMENTS["dev"], "signature": "reauth"}}  # type: ignore[dict-item]
        name, ctx = decided_then_signing_required(tmp_path, clock, environments=signs)
        try:
            report = EmbeddedClient(actor="rita", context=ctx).verify_audit()
        finally:
            ctx.close()
        assert report["ok"] and report["problems"] == []
        [warning] = report["warnings"]
        assert warning["check"] == "signature" and UNSIGNED in warning["message"]
        assert "rita" in warning["message"] and f"models/{name}/versions/1" in warning["message"]

    def test_part11_later_flags_them_too_and_the_cli_says_so_without_failing(
        self, tmp_path: Path, clock: FixedClock
    ) -> None:
        _, ctx = decided_then_signing_required(tmp_path, clock, signing={"part11": True})
        ctx.close()
        (tmp_path / "signoff.toml").write_text("[signing]\npart11 = true\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
        env.update(SIGNOFF_CONFIG=str(tmp_path / "signoff.toml"), SIGNOFF_DATABASE_URL=ctx.settings.database_url,
                   SIGNOFF_HOME=str(tmp_path / ".signoff"))
        out = subprocess.run([sys.executable, "-m", "signoff.entrypoints.cli", "audit", "verify"], capture_output=True,
                             text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "audit chain ok" in out.stdout and "warning: signature: decision by rita" in out.stderr
        assert UNSIGNED in out.stderr

    def test_a_decision_where_no_signature_is_required_is_not_flagged(self, tmp_path: Path, clock: FixedClock) -> None:
        _, ctx = decided_then_signing_required(tmp_path, clock)
        try:
            report = EmbeddedClient(actor="rita", context=ctx).verify_audit()
        finally:
            ctx.close()
        assert report["ok"] and report["warnings"] == []


class TestShownInWords:
    def test_the_evidence_pack_and_the_version_page_say_the_decision_is_unsigned_and_why(
        self, tmp_path: Path, clock: FixedClock
    ) -> None:
        signs = {**ENVIRONMENTS, "dev": {**ENVIRONMENTS["dev"], "signature": "reauth"}}  # type: ignore[dict-item]
        name, ctx = decided_then_signing_required(tmp_path, clock, environments=signs)
        try:
            pack = dict(EmbeddedClient(actor="rita", context=ctx).evidence(name, 1))
            [request] = pack["requests"]
            [decision] = request["decisions"]
            assert decision["signature_status"] == UNSIGNED
            assert pack["audit"]["verification"]["ok"] and pack["audit"]["verification"]["warnings"]
            html = evidence_pack.render_html(pack)
            assert "rita approved" in html and UNSIGNED in html
            with TestClient(create_app(ctx)) as http:
                form = http.get("/signin")
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
                assert csrf, form.text[:300]
                signed_in = http.post("/signin", data={"name": "rita", "password": PASSWORDS["rita"],
                                                       "csrf_token": csrf.group(1)}, follow_redirects=False)
                assert signed_in.status_code == 303, signed_in.text
                page = http.get(f"/models/{name}/versions/1").text
            assert UNSIGNED in page
        finally:
            ctx.close()
        assert json.dumps(pack)  # the marking is plain JSON
