"""Audit you can check from outside: signed checkpoints catch truncation and re-hashed rewrites,
and the live pointers and parameters must be explained by the chain. Each tamper is done with
plain SQL, as someone with database access would, and each is named by `audit verify`."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from tests.conftest import unique
from tests.integration.test_cli import Cli

from signoff.adapters.db.tables import AuditCheckpointRow, AuditRow, LiveRow, ParameterRow
from signoff.bootstrap import Context
from signoff.entrypoints.api import create_app
from signoff.entrypoints.audit_schedule import AuditScheduler
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import audit_anchor
from signoff.services.ports import FixedClock


@pytest.fixture
def world(ctx: Context, tmp_path: Path) -> dict[str, Any]:
    """Two models live in dev, one of them rolled back: a chain with real moves in it."""
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(os.urandom(32))
    dana, rita, ron = (EmbeddedClient(actor=u, context=ctx) for u in ("dana", "rita", "ron"))
    a, b = unique("a"), unique("b")
    for name in (a, b):
        dana.register(name, str(artifact))
        rita.approve(name, 1, "dev")
    dana.register(a, str(artifact))
    rita.approve(a, 2, "dev")
    ron.rollback(a, "dev", reason="v2 misbehaves")
    return {"a": a, "b": b, "admin": rita}


def problems(report: dict[str, Any], check: str) -> list[str]:
    return [p["message"] for p in report["problems"] if p["check"] == check]


def execute(ctx: Context, *statements: Any) -> None:
    with ctx.engine.begin() as conn:
        for stmt in statements:
            conn.execute(stmt)


def rehash_from(ctx: Context, entry_id: int, change: Any) -> None:
    """Edit one entry and re-seal every entry after it: a chain that verifies on its own."""
    from signoff.adapters.db.audit_log import audit_from_row
    from signoff.domain.audit import seal

    with ctx.session_factory() as session:
        rows = list(session.scalars(select(AuditRow).order_by(AuditRow.id)))
        prev = None
        for row in rows:
            entry = audit_from_row(row)
            if row.id == entry_id:
                entry.after = change(dict(entry.after))
            if row.id >= entry_id:
                seal(entry, prev if prev is not None else entry.prev_hash)
                row.after, row.prev_hash, row.hash = entry.after, entry.prev_hash, entry.hash
            prev = row.hash
        session.commit()


class TestCleanState:
    def test_verification_passes_and_counts_checkpoints(self, ctx: Context, world: dict[str, Any]) -> None:
        admin = world["admin"]
        envelope = admin.audit_checkpoint()
        payload = json.loads(base64.b64decode(envelope["payload"]))
        with ctx.engine.connect() as conn:
            last = conn.execute(select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc())).first()
            count = len(conn.execute(select(AuditRow.id)).all())
        assert (payload["count"], payload["head_id"], payload["head_hash"]) == (count, last[0], last[1])
        report = admin.verify_audit(checkpoints=[envelope])
        assert report["ok"] and report["problems"] == [] and report["checkpoints"] == 2, report


class TestTamperingIsNamed:
    def test_dropping_the_last_entries_is_caught_by_a_checkpoint(self, ctx: Context, world: dict[str, Any]) -> None:
        admin = world["admin"]
        kept = admin.audit_checkpoint()
        with ctx.engine.connect() as conn:
            top = conn.execute(select(AuditRow.id).order_by(AuditRow.id.desc())).scalars().first()
        # The attacker deletes the last 3 entries and the stored checkpoints; the chain still links.
        execute(ctx, delete(AuditRow).where(AuditRow.id > top - 3), delete(AuditCheckpointRow))
        assert problems(admin.verify_audit(), "chain") == []
        report = admin.verify_audit(checkpoints=[kept])
        [message] = problems(report, "checkpoint")
        assert "truncated" in message and not report["ok"]

    def test_a_rewrite_rehashed_to_the_end_is_caught_by_a_checkpoint(self, ctx: Context, world: dict[str, Any]) -> None:
        admin = world["admin"]
        kept = admin.audit_checkpoint()
        with ctx.engine.connect() as conn:
            target = conn.execute(select(AuditRow.id).where(AuditRow.action == "approval.approved")
                                  .order_by(AuditRow.id)).scalars().first()
        rehash_from(ctx, target, lambda after: {**after, "comment": "approved (edited later)"})
        execute(ctx, delete(AuditCheckpointRow))
        assert problems(admin.verify_audit(), "chain") == []  # re-hashed: the chain alone cannot tell
        report = admin.verify_audit(checkpoints=[kept])
        [message] = problems(report, "checkpoint")
        assert "rewritten before that checkpoint" in message

    def test_an_edited_live_versions_row_is_named(self, ctx: Context, world: dict[str, Any]) -> None:
        a = world["a"]
        with ctx.engine.connect() as conn:
            v2 = conn.execute(select(LiveRow.version_id).where(LiveRow.model_name == a)).scalar_one()
        execute(ctx, update(LiveRow).where(LiveRow.model_name == a, LiveRow.env == "dev").values(number=2, version_id=v2 + 1))
        report = world["admin"].verify_audit()
        [message] = problems(report, "live_versions")
        assert f"live_versions row {a}/dev was edited: its version (2)" in message and not report["ok"]

    def test_a_live_versions_row_written_outside_signoff_is_named(self, ctx: Context, world: dict[str, Any]) -> None:
        b = world["b"]
        with ctx.session_factory() as session:
            row = session.get(LiveRow, (b, "dev"))
            assert row is not None
            session.expunge(row)
        from sqlalchemy import insert

        values = {c.name: getattr(row, c.key) for c in LiveRow.__table__.columns}
        execute(ctx, insert(LiveRow).values({**values, "env": "prod"}))
        [message] = problems(world["admin"].verify_audit(), "live_versions")
        assert f"live_versions row {b}/prod makes version 1 live, but the audit chain records no decision" in message

    def test_a_deleted_live_versions_row_is_named(self, ctx: Context, world: dict[str, Any]) -> None:
        b = world["b"]
        execute(ctx, delete(LiveRow).where(LiveRow.model_name == b))
        [message] = problems(world["admin"].verify_audit(), "live_versions")
        assert f"live_versions row {b}/dev is missing" in message

    def test_an_edited_parameters_row_is_named(self, ctx: Context, world: dict[str, Any]) -> None:
        b = world["b"]
        name = f"/signoff/models/{b}/dev"
        with ctx.engine.connect() as conn:
            value = conn.execute(select(ParameterRow.value).where(ParameterRow.name == name)).scalar_one()
        execute(ctx, update(ParameterRow).where(ParameterRow.name == name)
                .values(value={**value, "artifact_uri": "s3://attacker/model.pkl"}))
        report = world["admin"].verify_audit()
        [message] = problems(report, "parameters")
        assert f"parameter {name} version 1 was edited" in message

    def test_an_added_parameter_version_is_named(self, ctx: Context, world: dict[str, Any]) -> None:
        from sqlalchemy import insert

        b = world["b"]
        name = f"/signoff/models/{b}/dev"
        with ctx.engine.connect() as conn:
            row = conn.execute(select(ParameterRow).where(ParameterRow.name == name)).mappings().one()
        execute(ctx, insert(ParameterRow).values({k: v for k, v in row.items() if k != "id"} | {"version": 2}))
        [message] = problems(world["admin"].verify_audit(), "parameters")
        assert f"parameter {name} is at version 2" in message

    def test_a_forged_stored_checkpoint_is_refused(self, ctx: Context, world: dict[str, Any]) -> None:
        admin = world["admin"]
        envelope = admin.audit_checkpoint()
        payload = json.loads(base64.b64decode(envelope["payload"]))
        payload["count"] += 5
        forged = {**envelope, "payload": base64.b64encode(json.dumps(payload).encode()).decode()}
        [message] = problems(admin.verify_audit(checkpoints=[forged]), "checkpoint")
        assert "a checkpoint was refused" in message and "does not verify" in message


class TestOperatorsView:
    def test_the_cli_prints_a_checkpoint_and_names_a_truncation_with_it(self, tmp_path: Path) -> None:
        cli = Cli(tmp_path)
        model = tmp_path / "m.bin"
        model.write_bytes(b"weights")
        assert cli("register", "churn", "--artifact", str(model), "--as", "dana").returncode == 0
        assert cli("approve", "churn", "1", "--env", "dev", "--as", "rita").returncode == 0
        out = cli("audit", "checkpoint")
        assert out.returncode == 0, out.stderr
        checkpoint = tmp_path / "checkpoint.json"
        checkpoint.write_text(out.stdout)
        assert json.loads(out.stdout)["payloadType"] == "application/vnd.signoff.audit-checkpoint+json"
        ok = cli("audit", "verify", "--checkpoint", str(checkpoint))
        assert ok.returncode == 0 and "2 checkpoints" in ok.stdout, ok.stderr
        from sqlalchemy import create_engine

        engine = create_engine(cli.db)
        with engine.begin() as conn:
            top = conn.execute(select(AuditRow.id).order_by(AuditRow.id.desc())).scalars().first()
            conn.execute(delete(AuditRow).where(AuditRow.id >= top - 1))
            conn.execute(delete(AuditCheckpointRow))
        engine.dispose()
        broken = cli("audit", "verify", "--checkpoint", str(checkpoint))
        assert broken.returncode == 1
        assert broken.stderr.startswith("checkpoint: the chain has") and "truncated" in broken.stderr

    def test_the_worker_checkpoints_verifies_and_announces_a_failure(
        self, ctx: Context, world: dict[str, Any], clock: FixedClock
    ) -> None:
        scheduler = AuditScheduler(ctx)
        first = scheduler.run_once()
        assert set(first) == {"checkpoint", "verification"} and first["verification"]["ok"]
        assert scheduler.run_once() == {}  # nothing is due yet
        execute(ctx, update(LiveRow).where(LiveRow.model_name == world["b"]).values(digest="sha256:" + "0" * 64))
        clock.advance(hours=1)
        again = scheduler.run_once()
        assert set(again) == {"checkpoint", "verification"} and not again["verification"]["ok"]
        [event] = [e.event for e in world["admin"].events(type="signoff.audit.verification_failed")]
        assert "digest" in event["data"]["problems"][0]["message"]
        assert len(world["admin"].events(type="signoff.audit.checkpoint")) == 2
        with TestClient(create_app(ctx)) as http:
            metrics = http.get("/metrics").text
        assert "signoff_audit_verification_ok 0.0" in metrics
        assert "signoff_audit_verification_problems 1.0" in metrics
        assert "signoff_audit_checkpoint_timestamp_seconds" in metrics
        assert audit_anchor.last_verification(uow=ctx.uow())["by"] == "signoff:worker"  # type: ignore[index]
