"""`signoff server` refuses a secret key that others could guess: review links and session cookies
are signed with it. One line and exit 2; `signoff secret-key` prints a good one; the demo makes its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from signoff.config import new_secret_key, secret_key_problem
from tests.fixtures.servers import free_port
from tests.fixtures.signoff_process import SignoffProcess

CLI = [sys.executable, "-m", "signoff.entrypoints.cli"]


def _server(tmp_path: Path, key: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
    env["SIGNOFF_DATABASE_URL"] = f"sqlite:///{tmp_path / 'signoff.db'}"
    if key is not None:
        env["SIGNOFF_SERVER__SECRET_KEY"] = key
    return subprocess.run([*CLI, "server", "--port", str(free_port())], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


class TestAServerWithAWeakSecretKey:
    @pytest.mark.parametrize("key", [None, "changethis", "x", "changethis" * 5, "0123456789abcdef" * 4,
                                     "a" * 64, new_secret_key()[:30]],
                             ids=["unset", "default", "one-char", "repeated", "hex-pattern", "one-letter", "short"])
    def test_refuses_to_start_with_one_line_and_exit_2(self, tmp_path: Path, key: str | None) -> None:
        result = _server(tmp_path, key)
        assert result.returncode == 2, (result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: config key server.secret_key"), result.stderr
        assert "signoff secret-key" in lines[0]
        assert "Traceback" not in result.stderr
        if key and key != "changethis":
            assert key not in result.stderr  # the refusal does not echo the secret

    def test_the_uvicorn_factory_refuses_it_too(self, tmp_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
        env.update(SIGNOFF_DATABASE_URL=f"sqlite:///{tmp_path / 'signoff.db'}", SIGNOFF_SERVER__SECRET_KEY="x")
        code = "from signoff.entrypoints.cli.server_cmd import app_from_env; app_from_env()"
        result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 2, result.stderr
        assert "server.secret_key" in result.stderr and "Traceback" not in result.stderr


class TestAGoodSecretKey:
    def test_signoff_secret_key_prints_a_fresh_key_the_server_accepts(self, tmp_path: Path,
                                                                     request: pytest.FixtureRequest) -> None:
        keys = [subprocess.run([*CLI, "secret-key"], capture_output=True, text=True, timeout=60, check=True).stdout
                for _ in range(2)]
        assert keys[0] != keys[1]
        key = keys[0].strip()
        assert keys[0] == key + "\n" and secret_key_problem(key) is None
        server = SignoffProcess(tmp_path, request)
        server.env["SIGNOFF_SERVER__SECRET_KEY"] = key
        try:
            server.start()  # waits for /readyz
        finally:
            server.stop()

    def test_the_demo_generates_its_own_and_keeps_it(self, tmp_path: Path) -> None:
        from signoff.demo.server import _secret_key

        first = _secret_key(tmp_path)
        assert secret_key_problem(first) is None
        assert _secret_key(tmp_path) == first
        assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


class TestWhatCountsAsRandom:
    @pytest.mark.parametrize("make", [new_secret_key, lambda: os.urandom(32).hex(),
                                      lambda: __import__("base64").b64encode(os.urandom(32)).decode()])
    def test_generated_keys_pass(self, make: object) -> None:
        for _ in range(200):
            key = make()  # type: ignore[operator]
            assert secret_key_problem(key) is None, key

    @pytest.mark.parametrize("key", ["abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ", "Passw0rd!" * 6,
                                     os.urandom(16).hex(), "ab" * 40],
                             ids=["alphabet", "password", "16-random-bytes", "repeated-pair"])
    def test_hand_made_or_short_keys_fail(self, key: str) -> None:
        assert secret_key_problem(key) is not None
