"""A real `signoff server` as production runs it (`[events] inline = false`, its worker thread
dispatching): concurrent registrations, some refused, answered one by one while they share
commits (the group-commit writer, adapters/db/group_commit.py) on SQLite and on PostgreSQL.
Numbers stay gapless, refusals write nothing, every event still reaches its rule, and the audit
chain verifies; also with two server processes writing the same models at once."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from signoff.adapters.db.engine import build_engine
from signoff.domain.events import REGISTERED
from tests.fixtures.signoff_process import SignoffProcess

pytestmark = pytest.mark.slow

CLIENTS, EACH = 8, 15


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[SignoffProcess]:
    process = SignoffProcess(tmp_path_factory.mktemp("group-commit"), request)
    process.env.update(SIGNOFF_EVENTS__INLINE="false")  # the worker thread comes with it
    yield process.start()
    process.stop()


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


def test_concurrent_registrations_with_refusals_in_between(server: SignoffProcess) -> None:
    token = server.token("dana", "register", "resolve")
    answers: list[tuple[int, int | str]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            for i in range(EACH):
                refused = (n + i) % 5 == 0
                # 1e999 parses (as infinity) and passes the schema; the service refuses it inside
                # the batch. (A literal NaN is refused before the fast path, by the body check.)
                body = (b'{"artifact_uri": "s3://b/x", "metrics": {"acc": 1e999}}' if refused
                        else b'{"artifact_uri": "s3://b/x", "metrics": {"acc": 0.9}}')
                r = http.post("/api/v1/models/crowd/versions", content=body,
                              headers={"Content-Type": "application/json"})
                with lock:
                    answers.append((r.status_code, r.json()["version"] if r.status_code == 201
                                    else r.json()["error"]["code"]))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    refusals = sum(1 for n in range(CLIENTS) for i in range(EACH) if (n + i) % 5 == 0)
    registered = CLIENTS * EACH - refusals
    assert sorted(a for a in answers if a[0] != 201) == [(400, "invalid_input")] * refusals
    assert sorted(v for status, v in answers if status == 201) == list(range(1, registered + 1))

    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        listed = http.get("/api/v1/models/crowd/versions", params={"limit": 500}).json()["items"]
        assert sorted(v["version"] for v in listed) == list(range(1, registered + 1))
        admin = server.token("olga", "admin")
        deadline = time.monotonic() + 60
        while True:  # the worker thread turns every version.registered event into an approval request
            opened = http.get("/api/v1/approval-requests", params={"model": "crowd", "limit": 500},
                              headers={"Authorization": f"Bearer {admin}"}).json()["items"]
            if len(opened) == registered or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert sorted(r["version"] for r in opened) == list(range(1, registered + 1))
        metrics = http.get("/metrics").text
    # The writer committed the accepted ones, several per transaction; the refused ones were
    # answered before they reached it (services/registry.py check_registration: cheap refusals
    # first), so they neither cost a place in a batch nor a savepoint.
    assert metric(metrics, "signoff_registrations_batched_total") == registered
    assert metric(metrics, "signoff_registration_batches_total") < CLIENTS * EACH
    verify = server.cli("audit", "verify", remote=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_two_server_processes_registering_the_same_models_crosswise(
        server: SignoffProcess, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each process batches its own registrations; two batches that take the same models in
    opposite orders must neither leave gaps nor lose a registration (one may have to wait for,
    or be retried after, the other)."""
    other = SignoffProcess(tmp_path_factory.mktemp("group-commit-2"))
    other.env.update(SIGNOFF_EVENTS__INLINE="false", SIGNOFF_DATABASE_URL=server.database_url)
    other.database_url = server.database_url
    other.start()
    try:
        token = server.token("dana", "register", "resolve")
        models = ["left", "right", "middle"]
        answers: list[tuple[str, int]] = []
        failures: list[str] = []
        lock = threading.Lock()

        def client(url: str, n: int) -> None:
            order = models if n % 2 else models[::-1]
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
                for i in range(EACH):
                    model = order[i % len(order)]
                    r = http.post(f"/api/v1/models/{model}/versions", json={"artifact_uri": f"s3://b/{n}/{i}"})
                    with lock:
                        if r.status_code == 201:
                            answers.append((model, r.json()["version"]))
                        else:
                            failures.append(r.text)

        threads = [threading.Thread(target=client, args=(url, n))
                   for n in range(CLIENTS) for url in (server.url, other.url)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert failures == []
        assert len(answers) == 2 * CLIENTS * EACH
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            for model in models:
                got = sorted(v for m, v in answers if m == model)
                assert got == list(range(1, len(got) + 1)), model
                listed = http.get(f"/api/v1/models/{model}/versions", params={"limit": 500}).json()["items"]
                assert sorted(v["version"] for v in listed) == got
            for process in (server, other):
                metrics = http.get(process.url + "/metrics").text
                assert metric(metrics, "signoff_registrations_batched_total") == CLIENTS * EACH
        audit = server.cli("audit", "verify", remote=False)
        assert audit.returncode == 0, audit.stdout + audit.stderr
        # Every registration's audit entry and event, once (a batch retried alone wrote nothing twice).
        engine = build_engine(server.database_url)
        try:
            with engine.connect() as conn:
                audited = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'version.registered'"))
                events = conn.execute(text("SELECT count(*) FROM outbox WHERE type = :t"), {"t": REGISTERED})
                assert (audited.scalar_one(), events.scalar_one()) == (2 * CLIENTS * EACH,) * 2
        finally:
            engine.dispose()
    finally:
        other.stop()
