"""Review-link tokens stay out of the access log (`signoff server --access-log`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.fixtures.signoff_process import SignoffProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[SignoffProcess]:
    process = SignoffProcess(tmp_path_factory.mktemp("access-log"), request)
    process.start(args=("--access-log", "--log-level", "info"))
    yield process
    process.stop()


class TestTheAccessLog:
    def test_logs_review_requests_without_their_tokens(self, server: SignoffProcess) -> None:
        token = "eyJ2IjoxLCJyIjo3fQ.SECRET-review-token-0123456789"
        with httpx.Client(base_url=server.url, follow_redirects=False) as http:
            first = http.get(f"/review/7?t={token}")
            assert first.status_code in (303, 400), first.text  # a tampered link, or off to sign in
            http.get(f"/signin?next={quote(f'/review/7?t={token}', safe='')}")
            http.get("/models?cursor=abc")  # other paths keep their query strings
        log = _wait_for(server.log, "GET /models?cursor=abc")
        assert re.search(r'"GET /review/7\?…" \d{3} ', log), log[-2000:]
        assert "GET /signin?…" in log
        assert "SECRET-review-token" not in log and quote("SECRET-review-token") not in log


def _wait_for(path: Path, needle: str, timeout: float = 10) -> str:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace")
        if needle in text:
            return text
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not in {path}:\n{path.read_text(errors='replace')[-2000:]}")
