"""The server's own log lines: timestamp, level, logger, and the request's id on every line
written for a request (`X-Request-ID` taken from the client or made, and sent back), as text or
as JSON (`--log-format json`)."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from signoff.bootstrap import Context
from signoff.entrypoints import logs
from signoff.entrypoints.api.app import create_app
from tests.fixtures.signoff_process import SignoffProcess


def json_lines(path: Path) -> list[dict[str, object]]:
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def wait_for(predicate, what: str, timeout: float = 10):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout}s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[SignoffProcess]:
    process = SignoffProcess(tmp_path_factory.mktemp("logs"), request).start(
        args=("--log-format", "json", "--access-log"))
    yield process
    process.stop()


@pytest.mark.slow
class TestTheServerProcessLogs:
    def test_a_request_id_from_the_client_is_in_the_servers_lines_and_the_response(
            self, server: SignoffProcess) -> None:
        r = httpx.get(server.url + "/api/v1/models", headers={"X-Request-ID": "pipeline-7f3a:42"})
        assert r.status_code == 401 and r.headers["x-request-id"] == "pipeline-7f3a:42"
        lines = wait_for(lambda: [e for e in json_lines(server.log) if e.get("request_id") == "pipeline-7f3a:42"],
                         "log line with the request id")
        [access] = [e for e in lines if e["logger"] == "signoff.access"]
        assert access["level"] == "INFO" and '"GET /api/v1/models" 401' in str(access["message"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", str(access["time"]))

    def test_without_one_the_server_makes_an_id_per_request(self, server: SignoffProcess) -> None:
        first, second = (httpx.get(server.url + "/healthz").headers["x-request-id"] for _ in range(2))
        assert first != second and re.fullmatch(r"[0-9a-f]{16}", first)
        wait_for(lambda: any(e.get("request_id") == second for e in json_lines(server.log)), "the made id")

    def test_a_malformed_id_is_replaced_not_logged(self, server: SignoffProcess) -> None:
        r = httpx.get(server.url + "/healthz", headers={"X-Request-ID": "x" * 200})
        assert r.headers["x-request-id"] != "x" * 200

    def test_lines_outside_requests_are_json_too_and_carry_a_dash(self, server: SignoffProcess) -> None:
        started = [e for e in json_lines(server.log) if e["logger"].startswith("uvicorn")]  # type: ignore[union-attr]
        assert started and all(e["request_id"] == "-" for e in started)
        assert any("Application startup complete" in str(e["message"]) for e in started)


class TestInProcess:
    @pytest.fixture
    def stream(self) -> Iterator[io.StringIO]:
        root = logging.getLogger()
        saved = (list(root.handlers), root.level)
        out = io.StringIO()
        logs.configure(level="info", fmt="text", access_log=True, stream=out)
        yield out
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        logging.getLogger("signoff.access").setLevel(logging.NOTSET)
        logging.captureWarnings(False)

    def test_a_line_written_in_a_sync_route_carries_the_request_id(self, ctx: Context, stream: io.StringIO) -> None:
        app = create_app(ctx)

        def handler() -> dict[str, str]:  # runs in the thread pool, as every sync route does
            logging.getLogger("signoff.test").warning("inside the route")
            return {}

        app.add_api_route("/log-probe", handler)
        with TestClient(app) as client:
            r = client.get("/log-probe", headers={"X-Request-ID": "abc-123"})
        assert r.headers["x-request-id"] == "abc-123"
        lines = stream.getvalue().splitlines()
        [inside] = [line for line in lines if "inside the route" in line]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING signoff\.test \[abc-123\] inside the route",
                            inside)
        assert any("signoff.access [abc-123]" in line and '"GET /log-probe" 200' in line for line in lines)
