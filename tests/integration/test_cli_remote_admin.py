"""`signoff rules` and `signoff deliveries` against a server (SIGNOFF_URL): the same commands as
embedded, no traceback; and an unexpected error anywhere in the CLI is one line and exit 70."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unique
from tests.fixtures.servers import WebhookReceiver
from tests.fixtures.signoff_process import SignoffProcess

CLI = [sys.executable, "-m", "signoff.entrypoints.cli"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[SignoffProcess]:
    process = SignoffProcess(tmp_path_factory.mktemp("remote-cli"), request)
    with (process.home / "signoff.toml").open("a") as config:
        config.write("[events]\nmax_attempts = 1\n")  # one failed attempt makes a dead letter
    process.start()
    yield process
    process.stop()


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


class TestRulesAndDeliveriesOverHttp:
    def test_list_add_disable_enable_and_replay_a_dead_letter(self, server: SignoffProcess,
                                                              webhook_receiver: WebhookReceiver) -> None:
        admin = server.token("dana", "admin")
        name = unique("hook")
        rules = json.loads(_ok(server.cli("rules", "list", "--json", token=admin)).stdout)
        assert any(r["source"] == "default" for r in rules)
        target = json.dumps({"type": "webhook", "url": webhook_receiver.url, "timeout": 5})
        pattern = json.dumps({"type": ["signoff.version.registered"]})
        added = json.loads(_ok(server.cli("rules", "add", name, "--pattern", pattern, "--target", target, "--json",
                                          token=admin)).stdout)
        assert added["name"] == name and added["source"] == "api"
        assert "disabled" in _ok(server.cli("rules", "disable", name, token=admin)).stdout
        assert "enabled" in _ok(server.cli("rules", "enable", name, token=admin)).stdout
        shown = json.loads(_ok(server.cli("rules", "show", name, "--json", token=admin)).stdout)
        assert shown["enabled"] is True

        webhook_receiver.respond_with([500])
        _ok(server.cli("register", unique("m"), "--artifact", "s3://b/m.pkl", token=server.token("dana", "register")))
        dead = json.loads(_ok(server.cli("deliveries", "list", "--state", "dead", "--rule", name, "--json",
                                         token=admin)).stdout)
        assert len(dead) == 1, dead
        shown = _ok(server.cli("deliveries", "show", str(dead[0]["id"]), "--json", token=admin))
        assert json.loads(shown.stdout)["attempt_log"]
        replayed = _ok(server.cli("deliveries", "replay", str(dead[0]["id"]), token=admin))
        assert f"delivery {dead[0]['id']} queued again" in replayed.stdout
        assert webhook_receiver.wait_for(2)[-1].status == 200

    def test_a_token_without_the_admin_scope_gets_one_line_and_the_permission_exit_code(
            self, server: SignoffProcess) -> None:
        result = server.cli("rules", "add", unique("r"), "--pattern", '{"source": ["signoff"]}',
                            "--target", '{"type": "email", "to": ["a@example.com"]}', token=server.token("eve", "resolve"))
        assert result.returncode == 5, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


class TestAnUnexpectedError:
    def test_is_one_line_with_a_reference_to_the_logged_traceback_and_exit_70(
            self, tmp_path: Path, webhook_receiver: WebhookReceiver) -> None:
        # SIGNOFF_URL pointing at something that is not signoff: it answers 200 with another JSON.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
        env.update(SIGNOFF_URL=webhook_receiver.base_url, SIGNOFF_TOKEN="t", SIGNOFF_HOME=str(tmp_path / "home"))
        result = subprocess.run([*CLI, "rules", "list"], capture_output=True, text=True, env=env, cwd=tmp_path,
                                timeout=60)
        assert result.returncode == 70, (result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
        found = re.search(r"ref ([0-9a-f]{8})\).*details are in (\S+)$", result.stderr.strip())
        assert found, result.stderr
        log = Path(found.group(2))
        assert log.is_relative_to(tmp_path / "home" / "logs") and found.group(1) in log.name
        assert log.stat().st_mode & 0o077 == 0
        text = log.read_text()
        assert "Traceback (most recent call last)" in text and "KeyError" in text and "rules list" in text
