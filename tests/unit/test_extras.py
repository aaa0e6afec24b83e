"""A part of signoff whose extra is not installed says, in one line, which extra to install.

Each case runs in a fresh interpreter where the extra's module cannot be imported (None in
sys.modules is how Python spells "not installed" for one process); .ci/wheel-check repeats the
main cases on a real core-only install.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from signoff._extras import MissingExtra, extra_for, missing_extra


def _run(blocked: str, code: str) -> subprocess.CompletedProcess[str]:
    prelude = f"import sys; sys.modules[{blocked!r}] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=60)


class TestTheTable:
    @pytest.mark.parametrize(("module", "extra"), [("typer", "cli"), ("sqlalchemy.orm", "server"),
                                                   ("pandas", "inference"), ("weasyprint", "evidence"),
                                                   ("no_such_module", None)])
    def test_names_the_extra_that_brings_a_module(self, module: str, extra: str | None) -> None:
        assert extra_for(module) == extra

    def test_a_module_no_extra_brings_is_a_bug_not_an_install_choice(self) -> None:
        assert missing_extra(ModuleNotFoundError("x", name="no_such_module"), "this") is None

    def test_the_message_is_one_line_with_the_pip_command(self) -> None:
        found = missing_extra(ModuleNotFoundError("x", name="fastapi"), "the API")
        assert isinstance(found, MissingExtra) and isinstance(found, ImportError)
        assert found.extra == "server"
        assert str(found) == ("the API needs the 'server' extra (fastapi is not installed): "
                              "pip install 'signoff[server]'")


class TestWithoutAnExtra:
    def test_the_command_without_the_cli_extra(self) -> None:
        out = _run("typer", "from signoff.__main__ import main; main()")
        assert out.returncode == 1
        assert out.stderr.splitlines() == [
            "error: the signoff command needs the 'cli' extra (typer is not installed): pip install 'signoff[cli]'"]

    def test_embedded_use_without_the_server_extra(self) -> None:
        out = _run("sqlalchemy", "import signoff\ntry:\n    signoff.Client(database_url='sqlite:///never.db', actor='a')\n"
                                 "except ImportError as exc:\n    print(type(exc).__name__, exc)")
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == ("MissingExtra embedded use (a database, no SIGNOFF_URL) needs the 'server' "
                                      "extra (sqlalchemy is not installed): pip install 'signoff[server]'")

    def test_a_server_command_without_the_server_extra(self, tmp_path: object) -> None:
        out = _run("sqlalchemy", f"import sys; sys.argv = ['signoff', '--db', 'sqlite:///{tmp_path}/x.db', "
                                 "'versions', 'churn']\nfrom signoff.__main__ import main; main()")
        assert out.returncode == 1, (out.stdout, out.stderr)
        assert len(out.stderr.splitlines()) == 1 and "pip install 'signoff[server]'" in out.stderr, out.stderr

    def test_batch_inference_without_the_inference_extra(self) -> None:
        out = _run("pandas", "from signoff.inference import run_batch\ntry:\n    run_batch(None, 'm', 'dev', 'x.csv')\n"
                             "except ImportError as exc:\n    print(exc)")
        assert out.returncode == 0, out.stderr
        assert "needs the 'inference' extra (pandas is not installed): pip install 'signoff[inference]'" in out.stdout

    def test_import_signoff_needs_no_extra(self) -> None:
        for blocked in ("typer", "sqlalchemy", "fastapi", "pandas", "numpy", "pydantic_settings"):
            out = _run(blocked, "import signoff; c = signoff.Client('http://127.0.0.1:9', 't'); c.close()")
            assert out.returncode == 0, (blocked, out.stderr)
