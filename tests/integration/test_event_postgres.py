"""The event bus on PostgreSQL: claims with FOR UPDATE SKIP LOCKED, several workers, one queue."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from signoff.adapters.db.tables import DeliveryAttemptRow
from signoff.bootstrap import bootstrap
from signoff.domain.events import Event
from signoff.entrypoints.worker import Worker
from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import DIGEST, make_settings, unique
from tests.fixtures.servers import WebhookReceiver


class TestWorkersShareOneQueueOnPostgres:
    def test_three_workers_deliver_every_event_once_and_the_workflow_runs(
        self, tmp_path: Path, postgres_database: str, webhook_receiver: WebhookReceiver
    ) -> None:
        settings = make_settings(tmp_path, database_url=postgres_database,
                                 events={"inline": False, "poll_interval": 0.02, "lease_seconds": 5})
        ctx = bootstrap(settings, migrate_schema=True)
        workers = []
        try:
            admin = EmbeddedClient(actor="olga", context=ctx)
            admin.add_rule("pg-hook", {"type": ["test.pg"]}, [{"type": "webhook", "url": webhook_receiver.url}])
            with ctx.uow() as uow:
                made = [Event("test.pg", f"tests/{i}", {"i": i}) for i in range(300)]
                for e in made:
                    uow.emit(e)
                uow.commit()
            name = unique()
            EmbeddedClient(actor="dana", context=ctx).register(name, "s3://b/m.pkl", digest=DIGEST)
            workers = [Worker(ctx, concurrency=2, name=f"pg-worker-{i}").start() for i in range(3)]
            webhook_receiver.wait_for(300, timeout=60)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not admin.requests(model=name, env="dev"):
                time.sleep(0.05)
            assert [r["reason"] for r in admin.requests(model=name, env="dev")] == ["registered"]
            time.sleep(0.3)
            keys = Counter(r.headers["Signoff-Idempotency-Key"] for r in webhook_receiver.requests)
            assert len(keys) == 300 and set(keys.values()) == {1}, "no delivery ran twice"
            runs = {d.id: d for d in admin.deliveries(rule="pg-hook", limit=500)}
            assert {d.state for d in runs.values()} == {"succeeded"}
            with ctx.engine.connect() as conn:
                owners = Counter(w for (w,) in conn.execute(select(DeliveryAttemptRow.worker)))
            assert len(owners) >= 2, f"the queue was shared: {owners}"
        finally:
            for w in workers:
                w.stop()
            ctx.close()
