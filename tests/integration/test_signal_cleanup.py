"""A benchmark run or a test session killed by SIGTERM stops the PostgreSQL server it started
(and removes its files), instead of leaving it running for the next run to trip over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.postgres import pg_bindir
from tests.fixtures.servers import unavailable

ROOT = Path(__file__).resolve().parents[2]


def _children_postmasters(parent: int) -> list[tuple[int, str]]:
    """(pid, data directory) of postgres postmasters whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and argv and argv[0].endswith(b"/postgres") and b"-D" in argv:
            found.append((int(entry.name), argv[argv.index(b"-D") + 1].decode()))
    return found


def _wait_for_postmaster(proc: subprocess.Popen[bytes], timeout: float = 120) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited early with {proc.returncode}"
        found = _children_postmasters(proc.pid)
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError("no postgres started")


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # exited, not yet reaped by its (dead) parent


def _terminate_and_check(proc: subprocess.Popen[bytes], postmaster: int, data: str) -> int:
    time.sleep(1)  # into the middle of the work
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while not _gone(postmaster) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(postmaster), f"postgres {postmaster} still running after its owner got SIGTERM"
    assert not Path(data).exists(), f"{data} left behind"
    return code


@pytest.fixture
def bindir() -> Path:
    found = pg_bindir()
    if found is None:
        unavailable("PostgreSQL binaries (initdb, postgres) not found; apt-get install postgresql")
    assert found is not None
    return found


class TestSigterm:
    def test_stops_the_benchmarks_postgres(self, bindir: Path, tmp_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
        env.update(SIGNOFF_BENCH_DB="postgres")
        proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "run.py"), "embedded"], cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=open(tmp_path / "bench.log", "wb"))  # noqa: SIM115
        try:
            postmaster, data = _wait_for_postmaster(proc)
            code = _terminate_and_check(proc, postmaster, data)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert code == 128 + signal.SIGTERM, (tmp_path / "bench.log").read_text()[-2000:]

    def test_stops_the_test_sessions_postgres(self, bindir: Path, tmp_path: Path) -> None:
        (tmp_path / "test_hold.py").write_text(
            "import time\n\n"
            "def test_hold(postgres_server):\n"
            "    time.sleep(600)\n")
        env = {k: v for k, v in os.environ.items() if k not in ("SIGNOFF_TEST_POSTGRES_URL", "PYTEST_ADDOPTS")}
        env["PYTHONPATH"] = str(ROOT)
        proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "tests.fixtures.servers", "-p", "no:cacheprovider",
                                 "-q", "test_hold.py"], cwd=tmp_path, env=env, stdout=open(tmp_path / "pytest.log", "wb"),  # noqa: SIM115
                                stderr=subprocess.STDOUT)
        try:
            postmaster, data = _wait_for_postmaster(proc)
            _terminate_and_check(proc, postmaster, data)
        finally:
            if proc.poll() is None:
                proc.kill()
