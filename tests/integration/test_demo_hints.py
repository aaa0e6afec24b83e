"""`make run`'s rough edges: a busy port, and which `signoff` to type in another terminal.

(That the terminal story says its database was thrown away: tests/integration/test_cli_inference.py.)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from signoff.demo.server import command_hint
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.sqlite_only  # no database is opened: nothing to vary
SIGNOFF = str(Path(sys.executable).with_name("signoff"))


def test_a_busy_port_is_refused_before_the_banner_passwords_or_any_state(tmp_path: Path) -> None:
    port = free_port()
    taken = socket.socket()
    taken.bind(("127.0.0.1", port))
    taken.listen(1)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
        done = subprocess.run([SIGNOFF, "server", "--demo", "--port", str(port)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
    finally:
        taken.close()
    assert done.returncode == 4, (done.stdout, done.stderr)  # Conflict's exit code
    assert done.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}"), done.stderr
    assert f"server --demo --port {port + 1}" in done.stderr
    assert "password" not in (done.stdout + done.stderr).lower() and "Sign in as" not in done.stdout
    assert not (tmp_path / ".signoff").exists()  # no database, no mailbox, no model trained


class TestCommandHint:
    def test_the_virtualenv_script_is_named_relative_to_the_project(self, tmp_path: Path) -> None:
        script = tmp_path / ".venv" / "bin" / "signoff"
        assert command_hint(str(script), tmp_path, lambda _: None) == ".venv/bin/signoff"
        assert command_hint(".venv/bin/signoff", Path.cwd(), lambda _: None) == ".venv/bin/signoff"

    def test_plain_signoff_when_the_shell_finds_the_same_program(self, tmp_path: Path) -> None:
        script = tmp_path / ".venv" / "bin" / "signoff"
        assert command_hint(str(script), tmp_path, lambda _: str(script)) == "signoff"
        other = tmp_path / "elsewhere" / "signoff"
        assert command_hint(str(script), tmp_path, lambda _: str(other)) == ".venv/bin/signoff"

    def test_a_script_outside_the_directory_is_named_in_full(self, tmp_path: Path) -> None:
        script = tmp_path / "opt" / "signoff"
        (tmp_path / "project").mkdir()
        assert command_hint(str(script), tmp_path / "project", lambda _: None) == str(script)

    def test_run_as_a_module_it_names_the_interpreters_script(self, tmp_path: Path) -> None:
        assert command_hint("-m", tmp_path, lambda _: None) == str(Path(sys.executable).with_name("signoff").absolute())

