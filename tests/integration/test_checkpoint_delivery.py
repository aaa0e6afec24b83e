"""Every signed audit checkpoint is an event, so a rule can send it where the database's
administrators cannot write: a webhook receiver gets the envelope, and that copy later
catches a truncation that the stored checkpoints (deleted with it) no longer could."""

from __future__ import annotations

from sqlalchemy import delete
from tests.fixtures.servers import WebhookReceiver
from tests.integration.test_event_targets import add_rule, admin, bus, bus_factory, worker  # noqa: F401

from signoff.adapters.db.tables import AuditCheckpointRow, AuditRow
from signoff.bootstrap import Context
from signoff.entrypoints.worker import Worker
from signoff.sdk._attest import verify_checkpoint


class TestCheckpointsLeaveTheDatabase:
    def test_a_rule_sends_each_checkpoint_to_a_webhook_and_that_copy_catches_a_truncation(
        self, bus: Context, worker: Worker, webhook_receiver: WebhookReceiver  # noqa: F811
    ) -> None:
        add_rule(bus, {"type": "webhook", "url": webhook_receiver.url}, etype="signoff.audit.checkpoint")
        dana = admin(bus)
        dana.register("churn", "s3://b/churn.pkl", digest="sha256:" + "ab" * 32)
        envelope = dana.audit_checkpoint()
        [request] = webhook_receiver.wait_for(1)
        event = request.json()
        assert event["type"] == "signoff.audit.checkpoint" and event["data"]["envelope"] == dict(envelope)
        kept = event["data"]["envelope"]
        head = verify_checkpoint(kept, bus.keys.public_keys())  # type: ignore[union-attr]
        assert head["count"] == event["data"]["count"] and head["head_hash"] == event["data"]["head_hash"]

        with bus.engine.begin() as conn:  # an attacker with the database drops the tail and the stored checkpoints
            conn.execute(delete(AuditRow).where(AuditRow.id >= head["head_id"]))
            conn.execute(delete(AuditCheckpointRow))
        assert dana.verify_audit()["ok"]  # without the kept copy the shortened chain looks whole
        report = dana.verify_audit(checkpoints=[kept])
        assert not report["ok"] and any("truncated" in p["message"] for p in report["problems"])
