"""PostgreSQL going away under a running `signoff server`: every request is a clean 503
`unavailable` with Retry-After and nothing about the database in it; `/readyz` shows its details
only to an admin; when the database is back, so is the service."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.postgres import pg_bindir
from tests.fixtures.servers import PostgresServer, unavailable
from tests.fixtures.signoff_process import SignoffProcess

# Nothing of these may reach a client: driver and library names, the server's address, SQL.
LEAKS = re.compile(r"psycopg|sqlalchemy|OperationalError|connection (?:to|refused|failed)|127\.0\.0\.1|"
                   r"port \d+|SELECT|Traceback|postgres", re.IGNORECASE)


@pytest.fixture
def outage(tmp_path: Path, request: pytest.FixtureRequest,
           postgres_server: PostgresServer) -> Iterator[tuple[PostgresServer, SignoffProcess]]:
    """A PostgreSQL cluster of the test's own (it will be stopped) and a server on it. Asking for
    the suite's `postgres_server` too keeps this test out of the PostgreSQL pass (it always is one)."""
    bindir = pg_bindir()
    if bindir is None:
        unavailable("PostgreSQL binaries (initdb, postgres) not found; apt-get install postgresql")
    assert bindir is not None
    database = PostgresServer.launch(bindir)
    process = SignoffProcess(tmp_path / "server", request)
    try:
        process.database_url = database.create_database("signoff")
        process.env["SIGNOFF_DATABASE_URL"] = process.database_url
        assert process.cli("db", "upgrade", remote=False).returncode == 0
        process.start()
        yield database, process
    finally:
        process.stop()
        database.stop()


def _requests(server: SignoffProcess, tokens: dict[str, str]) -> list[httpx.Response]:
    admin, dana = {"Authorization": f"Bearer {tokens['admin']}"}, {"Authorization": f"Bearer {tokens['dana']}"}
    body = {"artifact_uri": "s3://b/m.pkl"}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        return [
            http.get("/api/v1/models/churn/environments/dev", headers=dana),  # resolve fast path
            http.post("/api/v1/models/churn/versions", json=body, headers=dana),  # register fast path
            http.post("/api/v1/models/churn/versions", content=b'{"artifact_uri": "s3://b/m.pkl"}',
                      headers={**dana, "Content-Type": "application/json; charset=utf-8"}),  # the route
            http.get("/api/v1/models", headers=dana),
            http.get("/api/v1/audit/verify", headers=admin),
            http.get("/api/v1/rules", headers=admin),
            http.post("/api/v1/sessions", json={"username": "dana", "password": "x"}),
            http.get("/api/v1/models", headers={"Authorization": "Bearer so_unknown_token"}),
        ]


class TestAPostgresOutage:
    def test_requests_get_503_unavailable_and_readyz_keeps_details_for_admins(
            self, outage: tuple[PostgresServer, SignoffProcess]) -> None:
        database, server = outage
        tokens = {"dana": server.token("dana", "register", "resolve"), "admin": server.token("olga", "admin")}
        before = _requests(server, tokens)
        assert [r.status_code for r in before][:2] == [404, 201], [r.text for r in before]

        database.halt()
        time.sleep(6)  # past the token cache (5 s): tokens must be checked against the database again
        during = _requests(server, tokens)
        for response in during:
            assert response.status_code == 503, (response.request.url, response.status_code, response.text)
            assert response.headers.get("retry-after", "").isdigit(), response.headers
            assert response.json()["error"]["code"] == "unavailable", response.text
            assert not LEAKS.search(response.text), response.text

        anonymous = httpx.get(server.url + "/readyz")
        assert anonymous.status_code == 503 and anonymous.json() == {"status": "unavailable", "details": {}}
        assert anonymous.headers.get("retry-after", "").isdigit()
        assert httpx.get(server.url + "/healthz").status_code == 200  # the process itself is fine
        assert httpx.get(server.url + "/metrics").status_code == 200

        database.resume()
        deadline = time.monotonic() + 30
        while httpx.get(server.url + "/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the server did not recover after the database came back"
            time.sleep(0.2)
        after = _requests(server, tokens)
        assert [r.status_code for r in after][:4] == [404, 201, 201, 200], [r.text for r in after]

    def test_readyz_details_only_for_an_admin(self, outage: tuple[PostgresServer, SignoffProcess]) -> None:
        database, server = outage
        admin = server.token("olga", "admin")
        everyday = server.token("dana", "resolve")
        database.halt()
        # Fresh tokens: the server has not seen them, and cannot check them now; readiness still answers.
        detailed = httpx.get(server.url + "/readyz", headers={"Authorization": f"Bearer {admin}"})
        assert detailed.status_code == 503 and detailed.json()["details"] == {}
        database.resume()
        assert httpx.get(server.url + "/api/v1/models", headers={"Authorization": f"Bearer {admin}"}).status_code == 200
        database.halt()
        detailed = httpx.get(server.url + "/readyz", headers={"Authorization": f"Bearer {admin}"})
        assert detailed.status_code == 503 and "database" in detailed.json()["details"], detailed.text
        plain = httpx.get(server.url + "/readyz", headers={"Authorization": f"Bearer {everyday}"})
        assert plain.status_code == 503 and plain.json()["details"] == {}
