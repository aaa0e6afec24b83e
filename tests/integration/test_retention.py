"""Retention (`[retention]`, `signoff prune`, workers' schedule): what goes once it is old enough,
what stays because it is young, and what never goes at any age — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from signoff.adapters.db.tables import (
    AuditRow,
    DecisionRow,
    DeliveryAttemptRow,
    DeliveryRow,
    OutboxRow,
    ParameterRow,
    PromotionRow,
    RequestRow,
    TokenRow,
    VersionRow,
    WebSessionRow,
)
from signoff.bootstrap import Context, retention_policy
from signoff.config import load_settings
from signoff.entrypoints.pruner import Pruner
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import queries, retention, tokens, web_sessions
from signoff.services.ports import FixedClock
from tests.conftest import DIGEST, unique

KEPT_FOR_EVER = (AuditRow, DecisionRow, ParameterRow, PromotionRow, RequestRow, VersionRow)


def count(ctx: Context, row: type, *where: object) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(row).where(*where)) or 0)  # type: ignore[arg-type]


def live_in_dev(ctx: Context) -> str:
    """A version registered and approved in dev: events, deliveries, a decision, a parameter."""
    name = unique()
    EmbeddedClient(actor="dana", context=ctx).register(name, "s3://b/m.pkl", metrics={"accuracy": 0.95},
                                                       digest=DIGEST)
    EmbeddedClient(actor="rita", context=ctx).approve(name, 1, "dev")
    return name


def prune(ctx: Context, **policy: object) -> dict[str, int]:
    kept = {k: v for k, v in policy.items() if k != "batch_size"}
    full = retention.RetentionPolicy(**{**retention.RetentionPolicy().__dict__, **kept,  # type: ignore[arg-type]
                                        "batch_size": policy.get("batch_size", 5_000)})
    return retention.prune(uow_factory=ctx.uow_without_dispatch, clock=ctx.clock, policy=full).deleted


@pytest.fixture
def aged(ctx: Context, clock: FixedClock) -> dict[str, object]:
    """Old history (100 days back from 'now'), then fresh history made now."""
    old_model = live_in_dev(ctx)
    old_token, _ = tokens.create_token(uow=ctx.uow(), user="dana", scopes=["resolve"], actor="admin",
                                       expires_in=timedelta(days=1))
    revoked = tokens.create_token(uow=ctx.uow(), user="dana", scopes=["resolve"], actor="admin")[1]
    tokens.revoke_token(uow=ctx.uow(), token_id=revoked["id"], actor="admin")
    web_sessions.open_session(uow=ctx.uow(), user="rita", lifetime=timedelta(hours=12))
    web_sessions.open_session(uow=ctx.uow(), user="ron", lifetime=timedelta(days=200))  # still valid later
    lasting = tokens.create_token(uow=ctx.uow(), user="dana", scopes=["resolve"], actor="admin")[1]
    old_events = count(ctx, OutboxRow)
    old_deliveries = count(ctx, DeliveryRow)
    assert old_events >= 4 and old_deliveries >= 3 and count(ctx, DeliveryAttemptRow) >= 3
    assert count(ctx, DeliveryRow, DeliveryRow.state != "succeeded") == 0
    # One old delivery ends as a dead letter instead.
    with ctx.engine.begin() as conn:
        dead_id = conn.scalar(select(func.min(DeliveryRow.id)))
        conn.execute(update(DeliveryRow).where(DeliveryRow.id == dead_id).values(state="dead"))
    clock.advance(days=100)
    fresh_model = live_in_dev(ctx)
    fresh_token = tokens.create_token(uow=ctx.uow(), user="dana", scopes=["resolve"], actor="admin",
                                      expires_in=timedelta(days=1))[1]
    return {"old_model": old_model, "fresh_model": fresh_model, "old_events": old_events,
            "old_deliveries": old_deliveries, "dead_id": dead_id, "lasting_token": lasting["id"],
            "fresh_token": fresh_token["id"], "old_token": old_token}


class TestWhatGoes:
    def test_old_operational_rows_go_and_young_ones_stay(self, ctx: Context, aged: dict[str, object]) -> None:
        events, deliveries = count(ctx, OutboxRow), count(ctx, DeliveryRow)
        attempts = count(ctx, DeliveryAttemptRow)
        deleted = prune(ctx)
        assert deleted["deliveries"] == aged["old_deliveries"] - 1  # all the old ones but the dead letter
        assert deleted["dead_letters"] == 1  # 100 days > 90
        assert deleted["attempts"] == attempts - count(ctx, DeliveryAttemptRow) > 0
        assert deleted["events"] == aged["old_events"]
        assert (deleted["sessions"], deleted["tokens"]) == (1, 2)  # the expired and the revoked token
        assert count(ctx, OutboxRow) == events - aged["old_events"]
        assert count(ctx, DeliveryRow) == deliveries - aged["old_deliveries"]
        # The fresh history, the token without expiry and the fresh session all stay.
        assert count(ctx, OutboxRow) > 0 and count(ctx, DeliveryRow) > 0
        assert count(ctx, TokenRow, TokenRow.id.in_([aged["lasting_token"], aged["fresh_token"]])) == 2
        assert count(ctx, WebSessionRow) == 1

    def test_dead_letters_wait_longer_than_succeeded_deliveries(self, ctx: Context, aged: dict[str, object]) -> None:
        deleted = prune(ctx, dead_letters=timedelta(days=120))
        assert deleted["dead_letters"] == 0 and deleted["deliveries"] == aged["old_deliveries"] - 1
        assert count(ctx, DeliveryRow, DeliveryRow.id == aged["dead_id"]) == 1
        # Its event stays too: an event goes only once none of its deliveries is left.
        assert deleted["events"] < aged["old_events"]
        assert count(ctx, OutboxRow, OutboxRow.id == select(DeliveryRow.event_seq)
                     .where(DeliveryRow.id == aged["dead_id"]).scalar_subquery()) == 1

    def test_an_event_not_yet_fanned_out_never_goes(self, ctx: Context, aged: dict[str, object]) -> None:
        with ctx.engine.begin() as conn:
            waiting = conn.scalar(select(func.min(OutboxRow.id)))
            conn.execute(update(OutboxRow).where(OutboxRow.id == waiting).values(dispatched_at=None))
        prune(ctx)
        assert count(ctx, OutboxRow, OutboxRow.id == waiting) == 1

    def test_zero_days_keeps_a_kind_for_ever(self, ctx: Context, aged: dict[str, object]) -> None:
        deleted = prune(ctx, deliveries=None, dead_letters=None, events=None, sessions=None, tokens=None)
        assert not any(deleted.values())

    def test_small_batches_delete_the_same_rows(self, ctx: Context, aged: dict[str, object]) -> None:
        assert prune(ctx, batch_size=1)["events"] == aged["old_events"]

    def test_a_dry_run_counts_and_deletes_nothing(self, ctx: Context, aged: dict[str, object]) -> None:
        before = count(ctx, DeliveryRow), count(ctx, OutboxRow), count(ctx, TokenRow)
        report = retention.prune(uow_factory=ctx.read_uow, clock=ctx.clock, policy=retention_policy(ctx.settings),
                                 dry_run=True)
        assert report.deleted["deliveries"] == aged["old_deliveries"] - 1 and report.deleted["tokens"] == 2
        assert (count(ctx, DeliveryRow), count(ctx, OutboxRow), count(ctx, TokenRow)) == before


class TestWhatNeverGoes:
    def test_audit_decisions_parameters_requests_and_versions_survive_any_age(
            self, ctx: Context, aged: dict[str, object], clock: FixedClock) -> None:
        before = {row.__name__: count(ctx, row) for row in KEPT_FOR_EVER}
        clock.advance(days=10_000)
        deleted = prune(ctx, deliveries=timedelta(0), dead_letters=timedelta(0), events=timedelta(0),
                        sessions=timedelta(0), tokens=timedelta(0))
        assert deleted["events"] > 0
        after = {row.__name__: count(ctx, row) for row in KEPT_FOR_EVER}
        assert {k: v for k, v in after.items() if k != "AuditRow"} == {k: v for k, v in before.items()
                                                                       if k != "AuditRow"}
        assert after["AuditRow"] > before["AuditRow"]  # only grown: each batch records itself

    def test_each_batch_is_on_the_audit_chain_and_the_chain_still_verifies(
            self, ctx: Context, aged: dict[str, object]) -> None:
        prune(ctx, batch_size=2)
        with ctx.engine.connect() as conn:
            entries = conn.execute(select(AuditRow.subject, AuditRow.after).where(
                AuditRow.action == "retention.pruned")).all()
        assert {s for s, _ in entries} >= {"retention/deliveries", "retention/events", "retention/tokens"}
        assert all(a["deleted"] <= 2 for _, a in entries)
        assert queries.verify_audit(uow=ctx.read_uow()).ok

    def test_the_pruned_versions_still_resolve_and_keep_their_history(
            self, ctx: Context, aged: dict[str, object]) -> None:
        prune(ctx)
        client = EmbeddedClient(actor="dana", context=ctx)
        assert client.resolve(str(aged["old_model"]), "dev").version == 1
        history = client.parameter_history(f"/signoff/models/{aged['old_model']}/dev")
        assert len(history) == 1


class TestSchedule:
    def test_a_workers_pruner_applies_the_policy_on_its_own(self, ctx: Context, aged: dict[str, object]) -> None:
        pruner = Pruner(ctx, interval=3600, first_run_after=0.01).start()
        try:
            for _ in range(200):
                if count(ctx, DeliveryRow, DeliveryRow.id == aged["dead_id"]) == 0:
                    break
                import time

                time.sleep(0.05)
        finally:
            pruner.stop()
        assert count(ctx, DeliveryRow, DeliveryRow.id == aged["dead_id"]) == 0

    def test_the_retention_section_is_validated(self) -> None:
        from signoff.errors import InvalidInput

        with pytest.raises(InvalidInput, match="config key retention.interval"):
            load_settings(None, retention={"interval": "soon"})
        assert load_settings(None, retention={"interval": "off"}).retention.interval is None
        with pytest.raises(InvalidInput, match="config key retention.events_days"):
            load_settings(None, retention={"events_days": -1})


def test_signoff_prune_on_the_command_line(tmp_path: Path, database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
    env.update(SIGNOFF_DATABASE_URL=database_url, SIGNOFF_HOME=str(tmp_path / ".signoff"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "signoff.entrypoints.cli", *args], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=60)

    if database_url.startswith("sqlite"):
        assert run("users", "list").returncode == 0  # creates the schema
    out = run("prune", "--dry-run", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["dry_run"] is True and set(report["deleted"]) == {
        "deliveries", "dead_letters", "attempts", "events", "sessions", "tokens"}
    out = run("prune", "--older-than", "1", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["dry_run"] is False
    out = run("prune", "--older-than", "0")
    assert out.returncode == 2 and "older-than" in out.stderr
    assert "sent events" in run("prune").stdout
