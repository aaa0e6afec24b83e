"""`/metrics` stays cheap: the table scans behind the delivery totals are served from a value
refreshed in the background (`[server] metrics_cache_seconds`); what an operator alerts on
(backlog, dead letters, the oldest event's age, versions, open requests) is read at every scrape."""

from __future__ import annotations

import threading
import time

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import func, select, update

from signoff.adapters.db.tables import DeliveryRow
from signoff.bootstrap import Context
from signoff.entrypoints.api.cached import Cached
from signoff.entrypoints.api.routes.deliveries import DeliveryCollector
from signoff.entrypoints.api.routes.health import RegistryCollector
from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import unique


def metric(text: str, prefix: str) -> float:
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(prefix)))


class TestCached:
    def test_computed_once_then_refreshed_in_the_background_when_stale(self) -> None:
        calls: list[float] = []
        gate = threading.Event()

        def compute() -> int:
            if calls:
                gate.wait(5)  # a slow refresh: scrapes must not wait for it
            calls.append(time.monotonic())
            return len(calls)

        value = Cached(compute, ttl=0.1)
        assert value.get() == 1 and value.get() == 1 and len(calls) == 1
        time.sleep(0.15)
        started = time.monotonic()
        assert value.get() == 1 and value.get() == 1  # stale: served at once, one refresh started
        assert time.monotonic() - started < 0.5
        gate.set()
        for _ in range(100):
            if value.get() == 2:
                break
            time.sleep(0.02)
        assert value.get() == 2 and len(calls) == 2

    def test_a_failed_refresh_keeps_the_last_value(self) -> None:
        results: list[object] = [1, RuntimeError("database blinked"), 3]

        def compute() -> int:
            item = results.pop(0)
            if isinstance(item, Exception):
                raise item
            return item  # type: ignore[return-value]

        value = Cached(compute, ttl=0.01)
        assert value.get() == 1
        time.sleep(0.02)
        assert value.get() == 1  # the failing refresh runs in the background
        time.sleep(0.1)
        assert value.get() in (1, 3)

    def test_a_ttl_of_zero_computes_every_time(self) -> None:
        calls: list[int] = []
        value = Cached(lambda: calls.append(1) or len(calls), ttl=0)
        assert [value.get(), value.get()] == [1, 2]


class TestTheCollectors:
    def test_backlog_and_dead_letters_are_fresh_while_totals_are_cached(self, ctx: Context) -> None:
        registry = CollectorRegistry()
        registry.register(DeliveryCollector(ctx, cache_seconds=3600))
        registry.register(RegistryCollector(ctx.engine))
        EmbeddedClient(actor="dana", context=ctx).register(unique(), "s3://b/m.pkl")
        first = generate_latest(registry).decode()
        succeeded = metric(first, 'signoff_deliveries{state="succeeded",target_type="request_approval"}')
        assert succeeded == 1 and metric(first, "signoff_versions") == 1
        with ctx.engine.begin() as conn:  # one succeeded delivery becomes a dead letter
            conn.execute(update(DeliveryRow).where(DeliveryRow.id == select(func.min(DeliveryRow.id))
                                                   .scalar_subquery()).values(state="dead"))
        EmbeddedClient(actor="dana", context=ctx).register(unique(), "s3://b/m.pkl")
        EmbeddedClient(actor="dana", context=ctx).register(unique(), "s3://b/m.pkl")
        second = generate_latest(registry).decode()
        assert metric(second, 'signoff_deliveries{state="dead"') == 1  # read now
        assert metric(second, "signoff_versions") == 3  # read now
        assert metric(second, "signoff_open_requests") == 3
        # The scanned totals are the cached ones until the time to live runs out.
        assert metric(second, 'signoff_deliveries{state="succeeded",target_type="request_approval"}') == 1

    def test_without_a_cache_every_scrape_counts(self, ctx: Context) -> None:
        registry = CollectorRegistry()
        registry.register(DeliveryCollector(ctx, cache_seconds=0))
        EmbeddedClient(actor="dana", context=ctx).register(unique(), "s3://b/m.pkl")
        once = metric(generate_latest(registry).decode(), 'signoff_delivery_attempts_total{outcome="ok"}')
        EmbeddedClient(actor="dana", context=ctx).register(unique(), "s3://b/m.pkl")
        text = generate_latest(registry).decode()
        assert metric(text, 'signoff_deliveries{state="succeeded",target_type="request_approval"}') == 2
        assert metric(text, 'signoff_delivery_attempts_total{outcome="ok"}') == 2 * once
