"""Soak: 3 API processes and 3 workers on one PostgreSQL, 20 concurrent SDK clients.

For $SIGNOFF_SOAK_SECONDS (default 30) the clients register versions, decide on open requests
(racing each other for the same ones), report inference and resolve. Then the workers drain,
and the database, the loopback webhook receiver and `signoff audit verify` must agree:
no lost or duplicated versions, no request decided twice, every event delivered (a duplicate
only ever repeats its idempotency key), an unbroken audit chain. `make soak` runs it longer.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select
from tests.conftest import unique
from tests.fixtures.servers import WebhookReceiver
from tests.fixtures.soak import (
    HOOK_RULE,
    HOOK_SECRET,
    SoakCluster,
    Tally,
    Workload,
    soak_seconds,
    summary,
)

from signoff.adapters.db.engine import build_engine
from signoff.adapters.db.tables import (
    AuditRow,
    DecisionRow,
    DeliveryAttemptRow,
    DeliveryRow,
    ModelRow,
    OutboxRow,
    ParameterRow,
    PromotionRow,
    RequestRow,
    StageRow,
    VersionRow,
)
from signoff.adapters.webhooks import verify_signature
from signoff.domain.models import Stage

pytestmark = [pytest.mark.soak, pytest.mark.slow]

TERMINAL = ("approved", "rejected")


@pytest.fixture
def cluster(tmp_path: Path, postgres_database: str, webhook_receiver: WebhookReceiver) -> Iterator[SoakCluster]:
    c = SoakCluster(tmp_path / "cluster", postgres_database, webhook_receiver.url)
    try:
        yield c
    finally:
        c.stop()


class TestASoakOnPostgres:
    def test_three_apis_three_workers_and_twenty_clients_lose_nothing_and_decide_nothing_twice(
        self, cluster: SoakCluster, webhook_receiver: WebhookReceiver, tmp_path: Path
    ) -> None:
        began = time.monotonic()
        cluster.prepare()
        cluster.start(servers=3, workers=3)
        set_up_in = time.monotonic() - began
        models = [unique(f"soak{i}") for i in range(4)]
        workload = Workload(cluster.urls, cluster.tokens, models, clients=20, seconds=soak_seconds())
        tally = workload.run()
        cluster.check_alive()
        report = summary(tally, workload.elapsed)
        assert not tally.unexpected, f"{len(tally.unexpected)} unexpected errors, e.g. {tally.unexpected[:5]}"
        assert report["registered"] and report["decisions"], report

        engine = build_engine(cluster.database_url)
        try:
            try:
                drained_in = wait_until_drained(engine, webhook_receiver, timeout=90)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{cluster.logs()}") from None
            exit_codes = cluster.stop()
            with engine.connect() as conn:
                report["versions"] = check_versions(conn, models, tally)
                report["requests"] = check_decisions(conn, tally)
                report["events"] = check_events(conn, webhook_receiver)
        finally:
            engine.dispose()
        # Workers exit 0 on SIGTERM; uvicorn re-raises SIGTERM after its graceful shutdown.
        workers, servers = exit_codes[:3], exit_codes[3:]
        assert workers == [0] * 3 and set(servers) <= {0, -signal.SIGTERM}, (exit_codes, cluster.logs())
        verified = cluster.cli("audit", "verify", "--json")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        report["audit_entries"] = json.loads(verified.stdout)["checked"]
        report["set_up_in_s"], report["drained_in_s"] = round(set_up_in, 1), round(drained_in, 1)
        (tmp_path / "soak-summary.json").write_text(json.dumps(report, indent=2))
        print("\nsoak summary:", json.dumps(report, indent=2))


def wait_until_drained(engine: Any, receiver: WebhookReceiver, *, timeout: float) -> float:
    """Every event fanned out, no delivery pending or running, every webhook received: twice in a row."""
    begin = time.monotonic()
    calm = 0
    while time.monotonic() - begin < timeout:
        with engine.connect() as conn:
            undispatched = conn.scalar(select(func.count()).select_from(OutboxRow)
                                       .where(OutboxRow.dispatched_at.is_(None)))
            unfinished = conn.scalar(select(func.count()).select_from(DeliveryRow)
                                     .where(DeliveryRow.state.in_(["pending", "running"])))
            hooks = conn.scalar(select(func.count()).select_from(DeliveryRow).where(DeliveryRow.rule_name == HOOK_RULE))
        received = len({r.headers.get("Signoff-Idempotency-Key") for r in list(receiver.requests)})
        calm = calm + 1 if (undispatched, unfinished) == (0, 0) and received >= hooks else 0
        if calm >= 2:
            return time.monotonic() - begin
        time.sleep(0.25)
    raise AssertionError(f"not drained within {timeout}s: {undispatched} events not fanned out, "
                         f"{unfinished} deliveries pending/running, {received}/{hooks} webhooks received")


def check_versions(conn: Connection, models: list[str], tally: Tally) -> dict[str, int]:
    """Per model, numbers 1..N with no gap or repeat, N = the successful register calls."""
    seen = Counter(model for model, _ in tally.registered)
    out = {}
    for model in models:
        numbers = sorted(conn.scalars(select(VersionRow.number).join(ModelRow, ModelRow.id == VersionRow.model_id)
                                      .where(ModelRow.name == model)))
        assert numbers == list(range(1, len(numbers) + 1)), f"{model}: numbers have gaps or repeats"
        assert len(numbers) == seen[model], f"{model}: {len(numbers)} stored, {seen[model]} registered"
        handed_out = sorted(n for m, n in tally.registered if m == model)
        assert handed_out == numbers, f"{model}: clients were handed {handed_out[:20]}…"
        latest = conn.scalar(select(ModelRow.latest_version).where(ModelRow.name == model))
        assert latest == len(numbers)
        out[model] = len(numbers)
    return out


def check_decisions(conn: Connection, tally: Tally) -> dict[str, Any]:
    """Each request closed at most once, by exactly the decisions clients were told succeeded."""
    requests = {r.id: r for r in conn.execute(select(RequestRow.id, RequestRow.version_id, RequestRow.env,
                                                      RequestRow.state, RequestRow.policy))}
    decisions: defaultdict[int, list[Any]] = defaultdict(list)
    for d in conn.execute(select(DecisionRow.request_id, DecisionRow.actor, DecisionRow.verdict).order_by(DecisionRow.id)):
        decisions[d.request_id].append(d)
    audited: defaultdict[int, list[str]] = defaultdict(list)
    for (after,) in conn.execute(select(AuditRow.after).where(AuditRow.action.in_(["approval.approved",
                                                                                  "approval.rejected"]))
                                 .order_by(AuditRow.id)):
        audited[after["request_id"]].append(after["state"])
    told: defaultdict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for request_id, actor, verdict, state in tally.decisions:
        told[request_id].append((actor, verdict, state))

    for rid, r in requests.items():
        mine, states = decisions[rid], audited[rid]
        assert sorted((d.actor, d.verdict) for d in mine) == sorted((a, v) for a, v, _ in told[rid]), \
            f"request {rid}: stored decisions {mine} differ from what clients were told {told[rid]}"
        assert len(states) == len(mine), f"request {rid}: {len(mine)} decisions but {len(states)} audited"
        closing = [s for s in states if s in TERMINAL]
        assert len(closing) == (1 if r.state in TERMINAL else 0), f"request {rid} ({r.state}) closed {closing}"
        assert states[-1:] == closing or not closing, f"request {rid}: a decision after it closed: {states}"
        assert sum(s in TERMINAL for *_, s in told[rid]) == len(closing), f"request {rid}: {told[rid]}"
        if r.state == "approved" and r.policy.get("quorum") != "each-group":
            approvals = [d for d in mine if d.verdict == "approve"]
            assert len(approvals) == r.policy.get("required_approvals", 1), f"request {rid}: {mine}"
        if r.state == "rejected":
            assert [d.verdict for d in mine][-1] == "reject" and sum(d.verdict == "reject" for d in mine) == 1

    approved = Counter((r.version_id, r.env) for r in requests.values() if r.state == "approved")
    assert max(approved.values(), default=0) <= 1, "a version approved twice in one environment"
    moves = Counter(conn.execute(select(PromotionRow.version_id, PromotionRow.env)
                                 .where(PromotionRow.kind == "approval")).all())
    assert moves == approved, "every approval moved the live pointer exactly once"
    stages = {(s.version_id, s.env) for s in conn.execute(select(StageRow.version_id, StageRow.env)
                                                          .where(StageRow.status == Stage.APPROVED.value))}
    assert stages == set(approved), "stage Approved exactly where a request was approved"
    for name, versions in _grouped(conn.execute(select(ParameterRow.name, ParameterRow.version))).items():
        assert sorted(versions) == list(range(1, len(versions) + 1)), f"parameter {name}: {sorted(versions)}"
    assert sum(len(v) for v in _grouped(conn.execute(select(ParameterRow.name, ParameterRow.version))).values()) \
        == sum(moves.values())
    by_env: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for r in requests.values():
        by_env[r.env][r.state] += 1
    return {"total": len(requests), "decisions": sum(len(v) for v in decisions.values()),
            "by_env": {env: dict(states) for env, states in by_env.items()}}


def _grouped(rows: Any) -> dict[Any, list[Any]]:
    out: defaultdict[Any, list[Any]] = defaultdict(list)
    for key, value in rows:
        out[key].append(value)
    return out


def check_events(conn: Connection, receiver: WebhookReceiver) -> dict[str, Any]:
    """Every outbox event reached the receiver; duplicates carry the key of the delivery they repeat."""
    events = set(conn.scalars(select(OutboxRow.event_id)))
    states = dict(conn.execute(select(DeliveryRow.state, func.count()).group_by(DeliveryRow.state)).all())
    assert set(states) == {"succeeded"}, f"deliveries by state: {states}"
    hooks = dict(conn.execute(select(DeliveryRow.event_id, DeliveryRow.idempotency_key)
                              .where(DeliveryRow.rule_name == HOOK_RULE)).all())
    assert set(hooks) == events, "one webhook delivery per event"
    keys_by_event: defaultdict[str, set[str]] = defaultdict(set)
    requests = list(receiver.requests)
    for r in requests:
        assert verify_signature(HOOK_SECRET, r.headers["Signoff-Signature"], r.body, tolerance=3600)
        keys_by_event[r.json()["id"]].add(r.headers["Signoff-Idempotency-Key"])
    assert set(keys_by_event) == events, f"{len(events - set(keys_by_event))} events never reached the receiver"
    assert all(keys == {hooks[e]} for e, keys in keys_by_event.items()), "a duplicate with a different key"
    attempts = dict(conn.execute(select(DeliveryAttemptRow.outcome, func.count())
                                 .group_by(DeliveryAttemptRow.outcome)).all())
    retried = Counter(f"{t}: {(e or '')[:90]}" for t, e in conn.execute(
        select(DeliveryRow.target_type, DeliveryAttemptRow.error).join(DeliveryRow, DeliveryRow.id ==
                                                                       DeliveryAttemptRow.delivery_id)
        .where(DeliveryAttemptRow.outcome != "ok")))
    return {"events": len(events), "deliveries": sum(states.values()), "attempts": attempts,
            "failed_attempts": dict(retried.most_common(5)),
            "webhook_requests": len(requests), "duplicates": len(requests) - len(events),
            "by_type": dict(Counter(conn.scalars(select(OutboxRow.type))).most_common())}
