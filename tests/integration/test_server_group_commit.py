"""A real `signoff server` as production runs it (`[events] inline = false`, its worker thread
dispatching): concurrent registrations, some refused, answered one by one while on SQLite they
share commits (services/batched_registrations.py). Numbers stay gapless, refusals write nothing,
every event still reaches its rule, and the audit chain verifies."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.conftest import on_postgres
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
    if not on_postgres():  # SQLite: the writer committed them, several per transaction
        assert metric(metrics, "signoff_registrations_batched_total") == CLIENTS * EACH
        assert metric(metrics, "signoff_registration_batches_total") < CLIENTS * EACH
    verify = server.cli("audit", "verify", remote=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
