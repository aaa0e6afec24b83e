"""`signoff --version`, and shell completion: `signoff --install-completion SHELL` writes a script
for bash, zsh and fish, and the program answers each shell's completion protocol."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from signoff import __version__

SIGNOFF = Path(sys.executable).parent / "signoff"  # the console script pip installed


def run(*args: str, home: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNOFF_", "_SIGNOFF", "_TYPER"))}
    full.update(env)
    if home is not None:
        full["HOME"] = str(home)
    return subprocess.run([str(SIGNOFF), *args], capture_output=True, text=True, env=full, timeout=60)


def test_version_prints_the_package_version() -> None:
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"signoff {__version__}"


class TestCompletionProtocols:
    def test_bash_completes_commands_and_subcommands(self) -> None:
        out = run(_SIGNOFF_COMPLETE="complete_bash", COMP_WORDS="signoff pru", COMP_CWORD="1")
        assert out.stdout.split() == ["prune"]
        out = run(_SIGNOFF_COMPLETE="complete_bash", COMP_WORDS="signoff deliveries re", COMP_CWORD="2")
        assert out.stdout.split() == ["replay"]

    def test_zsh_completes_with_the_commands_help(self) -> None:
        out = run(_SIGNOFF_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="signoff work")
        assert '"worker":"Claim committed events' in out.stdout

    def test_fish_completes_option_values(self) -> None:
        out = run(_SIGNOFF_COMPLETE="complete_fish", _TYPER_COMPLETE_ARGS="signoff server --log-format ",
                  _TYPER_COMPLETE_FISH_ACTION="get-args")
        assert out.stdout.split() == ["text", "json"]


class TestInstallCompletion:
    @pytest.mark.parametrize(("shell", "script", "rc"), [
        ("bash", ".bash_completions/signoff.sh", ".bashrc"),
        ("zsh", ".zfunc/_signoff", ".zshrc"),
        ("fish", ".config/fish/completions/signoff.fish", None),
    ])
    def test_it_installs_a_script_for_each_shell(self, tmp_path: Path, shell: str, script: str, rc: str | None) -> None:
        out = run("--install-completion", shell, home=tmp_path, _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
        assert out.returncode == 0, out.stderr
        assert "_SIGNOFF_COMPLETE" in (tmp_path / script).read_text()
        if rc is not None:
            assert (tmp_path / rc).exists()

    @pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
    def test_the_installed_bash_script_completes_in_a_real_bash(self, tmp_path: Path) -> None:
        run("--install-completion", "bash", home=tmp_path, _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
        probe = ("source ~/.bash_completions/signoff.sh; COMP_WORDS=(signoff tok); COMP_CWORD=1; "
                 "_signoff_completion signoff; echo \"${COMPREPLY[@]}\"")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNOFF_", "_SIGNOFF"))}
        env.update(HOME=str(tmp_path), PATH=f"{SIGNOFF.parent}{os.pathsep}{env.get('PATH', '')}")
        out = subprocess.run(["bash", "--noprofile", "--norc", "-c", probe], capture_output=True, text=True,
                             env=env, timeout=60)
        assert out.stdout.split() == ["tokens"], out.stderr
