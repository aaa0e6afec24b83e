"""`signoff worker` and the rules/deliveries commands as real processes on one database.

The crash test: 500 events wait in the outbox, a worker is SIGKILLed in the middle of
delivering them, a second one is started; the receiver ends up with every event, and each
duplicate carries the idempotency key of the delivery it repeats.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.conftest import database_url_for, make_settings
from tests.fixtures.servers import WebhookReceiver

from signoff.adapters.db.tables import DeliveryAttemptRow, DeliveryRow
from signoff.bootstrap import Context, bootstrap
from signoff.domain.events import Event
from signoff.sdk._embedded import EmbeddedClient

CONFIG = """
[users.dana]
groups = ["data-science", "ml-reviewers"]
[users.rita]
groups = ["ml-reviewers"]
[events]
inline = false
lease_seconds = 1.0
poll_interval = 0.02
backoff_base = 0.05
backoff_cap = 0.2
max_attempts = 3
"""


class Box:
    """A signoff.toml, a database, and the `signoff` command pointed at them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        (tmp / "signoff.toml").write_text(CONFIG)
        self.db = database_url_for(tmp / "db.sqlite")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
        self.env.update(SIGNOFF_CONFIG=str(tmp / "signoff.toml"), SIGNOFF_DATABASE_URL=self.db,
                        SIGNOFF_USER="rita", PYTHONPATH=os.pathsep.join(sys.path))
        self.workers: list[subprocess.Popen[bytes]] = []

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "signoff.entrypoints.cli", *args], capture_output=True,
                              text=True, env=self.env, cwd=self.tmp, timeout=120)

    def json(self, *args: str) -> Any:
        out = self(*args, "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def worker(self, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"worker-{len(self.workers)}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "signoff.entrypoints.cli", "worker", *args],
                                env=self.env, cwd=self.tmp, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.workers.append(proc)
        return proc

    def log(self, i: int) -> str:
        return (self.tmp / f"worker-{i}.log").read_text(errors="replace")

    def context(self) -> Context:
        return bootstrap(make_settings(self.tmp, database_url=self.db,
                                       events={"inline": False, "lease_seconds": 1.0}))

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    b = Box(tmp_path)
    yield b
    b.stop()


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout}s")


def complete(receiver: WebhookReceiver) -> list[Any]:
    """Requests that arrived whole: a worker killed mid-send leaves a truncated one behind,
    which a real receiver would refuse (it fails signature and JSON checks) and never process."""
    out = []
    for r in list(receiver.requests):
        try:
            r.json()
        except ValueError:
            continue
        out.append(r)
    return out


@pytest.mark.slow
class TestAKilledWorkerLosesNothing:
    def test_500_events_survive_a_sigkill_mid_run_and_duplicates_carry_earlier_keys(
        self, box: Box, webhook_receiver: WebhookReceiver
    ) -> None:
        ctx = box.context()
        try:
            EmbeddedClient(actor="olga", context=ctx).add_rule(
                "crash", {"type": ["test.crash"]}, [{"type": "webhook", "url": webhook_receiver.url, "timeout": 5}])
            with ctx.uow() as uow:
                ids = [Event("test.crash", f"tests/crash/{i}", {"i": i}).id for i in range(500)]
                for i, event_id in enumerate(ids):
                    uow.emit(Event("test.crash", f"tests/crash/{i}", {"i": i}, id=event_id))
                uow.commit()
        finally:
            ctx.close()
        webhook_receiver.respond_with([], then=200, delay=0.004)  # slow enough to kill it mid-run
        first = box.worker("--concurrency", "2")
        wait_until(lambda: len(webhook_receiver.requests) >= 100, 60, f"100 deliveries\n{box.log(0)}")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        delivered_before = {r.json()["id"] for r in complete(webhook_receiver)}
        assert 100 <= len(delivered_before) < 500, "the kill must land mid-run"

        second = box.worker("--concurrency", "2")
        wait_until(lambda: {r.json()["id"] for r in complete(webhook_receiver)} >= set(ids), 90,
                   f"all 500 events\n{box.log(1)}")
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, box.log(1)

        requests = complete(webhook_receiver)
        assert {r.json()["id"] for r in requests} == set(ids)
        first_key: dict[str, str] = {}
        for r in requests:
            event_id, key = r.json()["id"], r.headers["Signoff-Idempotency-Key"]
            assert key == f"{event_id}/crash/0"
            # A duplicate repeats an earlier delivery: same event, same key, so a receiver drops it.
            assert first_key.setdefault(event_id, key) == key
        ctx = box.context()
        try:
            with ctx.engine.connect() as conn:
                states = dict(conn.execute(select(DeliveryRow.state, func.count()).group_by(DeliveryRow.state)).all())
                lost = conn.execute(select(func.count()).select_from(DeliveryAttemptRow)
                                    .where(DeliveryAttemptRow.outcome == "lost")).scalar_one()
        finally:
            ctx.close()
        assert states == {"succeeded": 500}
        duplicates = len(requests) - 500
        assert lost >= 1 or duplicates == 0  # a duplicate only ever comes from a taken-over lease


@pytest.mark.slow
class TestTheCommands:
    def test_a_worker_process_delivers_what_the_cli_commits_and_stops_cleanly_on_sigterm(
        self, box: Box, webhook_receiver: WebhookReceiver
    ) -> None:
        hook = json.dumps({"type": "webhook", "url": webhook_receiver.url, "secret": "s3cret"})
        added = box("rules", "add", "on-register", "--pattern", '{"type": ["signoff.version.registered"]}',
                    "--target", hook, "--description", "tell the deploy bot")
        assert added.returncode == 0, added.stderr
        assert box("register", "churn", "--artifact", "s3://b/churn.pkl", "--as", "dana").returncode == 0
        assert box.json("requests", "--state", "open") == []  # inline dispatch is off: nothing yet
        worker = box.worker()
        [request] = webhook_receiver.wait_for(1, timeout=30)
        assert request.json()["data"]["model"] == "churn"
        wait_until(lambda: len(box.json("requests", "--state", "open")) == 1, 30, "the approval request")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, box.log(0)
        shown = box.json("rules", "show", "on-register")
        assert shown["targets"][0]["secret"] == "***" and shown["description"] == "tell the deploy bot"
        listed = {r["name"]: r["source"] for r in box.json("rules", "list")}
        assert listed["default-request-approval"] == "default" and listed["on-register"] == "api"
        assert "on-register" in box("rules", "list").stdout

    def test_dead_letters_are_listed_and_replayed(self, box: Box, webhook_receiver: WebhookReceiver) -> None:
        webhook_receiver.stop()
        hook = json.dumps({"type": "webhook", "url": webhook_receiver.url})
        assert box("rules", "add", "hook", "--pattern", '{"type": ["signoff.version.registered"]}',
                   "--target", hook).returncode == 0
        assert box("register", "churn", "--artifact", "s3://b/churn.pkl", "--as", "dana").returncode == 0
        box.worker()
        [dead] = wait_until(lambda: box.json("deliveries", "list", "--state", "dead"), 30, "a dead letter")
        assert (dead["rule"], dead["attempts"]) == ("hook", 3)
        shown = box.json("deliveries", "show", str(dead["id"]))
        assert [a["outcome"] for a in shown["attempt_log"]] == ["retry", "retry", "retry"]
        webhook_receiver.start()
        replayed = box("deliveries", "replay", str(dead["id"]))
        assert replayed.returncode == 0 and "queued again" in replayed.stdout
        webhook_receiver.wait_for(1, timeout=30)
        wait_until(lambda: box.json("deliveries", "show", str(dead["id"]))["state"] == "succeeded", 30, "success")
        assert box("deliveries", "replay", "999").returncode == 3

    def test_rules_test_prints_match_or_no_match_with_exit_codes(self, box: Box) -> None:
        (box.tmp / "pattern.json").write_text('{"data": {"accuracy": [{"numeric": [">=", 0.9]}]}}')
        (box.tmp / "good.json").write_text('{"type": "x", "data": {"accuracy": 0.93}}')
        (box.tmp / "bad.json").write_text('{"type": "x", "data": {"accuracy": 0.5}}')
        (box.tmp / "broken.json").write_text('{"data": {"accuracy": [{"numeric": [">=", "high"]}]}}')
        yes, no = box("rules", "test", "pattern.json", "good.json"), box("rules", "test", "pattern.json", "bad.json")
        assert (yes.returncode, yes.stdout.strip()) == (0, "match")
        assert (no.returncode, no.stdout.strip()) == (1, "no match")
        broken = box("rules", "test", "broken.json", "good.json")
        assert broken.returncode == 2 and "$.data.accuracy[0].numeric[1]" in broken.stderr

    def test_adding_an_invalid_rule_names_the_path_and_stores_nothing(self, box: Box) -> None:
        out = box("rules", "add", "bad", "--pattern", '{"detail": {"x": [{"prefix": 1}]}}',
                  "--target", '{"type": "request_approval"}')
        assert out.returncode == 2 and "$.detail.x[0].prefix" in out.stderr
        assert "bad" not in [r["name"] for r in box.json("rules", "list")]
        disabled = box("rules", "disable", "default-notify-registrant")
        assert disabled.returncode == 0 and "disabled" in disabled.stdout
        assert box("rules", "disable", "nope").returncode == 3
