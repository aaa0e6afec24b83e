"""`signoff server --demo` (what `make run` starts), as a real process in an empty directory."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.fixtures.servers import free_port
from tests.fixtures.web import Visitor

# The demo server always keeps its state in ./.signoff/signoff.db (SQLite): nothing to vary.
# `signoff server` on PostgreSQL is tests/integration/test_server_process.py.
pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

SIGNOFF = str(Path(sys.executable).with_name("signoff"))
USER_LINE = re.compile(r"^\s+(\w+)\s+(\1-[0-9a-f]{6})\s+(.+)$")


class DemoProcess:
    def __init__(self, cwd: Path) -> None:
        self.cwd, self.port = cwd, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 120) -> DemoProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
        self.lines = []
        self.proc = subprocess.Popen([SIGNOFF, "server", "--demo", "--port", str(self.port)], cwd=self.cwd, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the demo server exited:\n" + "\n".join(self.lines))
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200 and self.banner_done():
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the demo server did not start:\n" + "\n".join(self.lines))

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def banner_done(self) -> bool:
        return any("Press Ctrl-C to stop" in line for line in self.lines)

    def passwords(self) -> dict[str, str]:
        return {m.group(1): m.group(2) for line in self.lines if (m := USER_LINE.match(line))}

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    """One demo server for the module (it trains a model at first start); tests run in order."""
    process = DemoProcess(tmp_path_factory.mktemp("demo")).start()
    yield process
    if process.proc is not None and process.proc.poll() is None:
        process.stop()


def mailbox_links(demo: DemoProcess) -> list[str]:
    html = httpx.get(demo.url + "/mailbox").text
    return re.findall(r'href="(http://127\.0\.0\.1:\d+/review/\d+\?t=[^"]+)"', html)


class TestTheDemoServer:
    def test_it_prints_the_url_and_whom_to_sign_in_as(self, demo: DemoProcess) -> None:
        out = "\n".join(demo.lines)
        assert f"signoff demo server: {demo.url}" in out
        assert "Waiting for a decision: cancer-classifier v1 in dev (#1, ml-reviewers)" in out
        roles = {m.group(1): m.group(3) for line in demo.lines if (m := USER_LINE.match(line))}
        assert roles["dana"].startswith("data scientist")
        assert roles["rita"].startswith("dev/test approver") and "start here" in roles["rita"]
        assert roles["uma"].startswith("uat approver")
        assert roles["paula"].startswith("prod approver") and roles["pete"].startswith("prod approver")
        assert (demo.cwd / ".signoff" / "signoff.db").exists()

    def test_the_model_waits_for_approval_and_its_email_is_in_the_mailbox(self, demo: DemoProcess) -> None:
        links = []
        for _ in range(50):  # the worker sends it right after start-up
            links = mailbox_links(demo)
            if links:
                break
            time.sleep(0.2)
        assert len(links) == 1  # to rita only: dana registered it and may not approve it
        rita = Visitor(demo.url)
        try:
            page = rita.get(links[0].removeprefix(demo.url))
            assert page.status_code == 303
            rita.sign_in("rita", demo.passwords()["rita"], next_url=links[0].removeprefix(demo.url))
            review = rita.get(links[0].removeprefix(demo.url))
            assert review.status_code == 200 and "cancer-classifier" in review.text
            assert "Approve v1 for dev" in review.text
            assert rita.decide(1, "approve", "looks right").status_code == 303
            board = rita.get("/models/cancer-classifier").text
            assert re.search(r'<td class="cell is-live">\s*<span class="badge ok">approved</span>', board)
        finally:
            rita.close()

    def test_a_restart_keeps_the_state_and_the_passwords(self, demo: DemoProcess) -> None:
        passwords = demo.passwords()
        assert any(line.startswith("Training a classifier") for line in demo.lines)
        assert demo.stop() == 0
        demo.start()
        assert demo.passwords() == passwords
        assert not any(line.startswith("Training a classifier") for line in demo.lines)
        rita = Visitor(demo.url)
        try:
            rita.sign_in("rita", passwords["rita"])
            board = rita.get("/models/cancer-classifier").text  # approved by the test before
            assert re.search(r'<td class="cell is-live">\s*<span class="badge ok">approved</span>', board)
        finally:
            rita.close()
        assert any("Nothing is waiting for a decision" in line for line in demo.lines)
