"""`/metrics` stays cheap: the table scans behind the delivery totals are served from a value
refreshed in the background (`[server] metrics_cache_seconds`); what an operator alerts on
(backlog, dead letters, the oldest event's age, versions, open requests) is read at every scrape."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import delete, func, select, text, update

from signoff.adapters.db.tables import DeliveryAttemptRow, DeliveryRow
from signoff.bootstrap import Context
from signoff.entrypoints.api.cached import Cached
from signoff.entrypoints.api.routes.deliveries import DeliveryCollector
from signoff.entrypoints.api.routes.health import RegistryCollector
from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import unique


def counted(ctx: Context) -> dict[str, dict[Any, int]]:
    """The figures counted over the rows themselves."""
    with ctx.engine.connect() as conn:
        deliveries = {(s, t): n for s, t, n in conn.execute(
            select(DeliveryRow.state, DeliveryRow.target_type, func.count())
            .group_by(DeliveryRow.state, DeliveryRow.target_type))}
        attempts = {o: n for o, n in conn.execute(
            select(DeliveryAttemptRow.outcome, func.count()).group_by(DeliveryAttemptRow.outcome))}
    return {"deliveries": deliveries, "attempts": attempts}


def scraped(registry: CollectorRegistry) -> dict[str, dict[Any, int]]:
    """The same figures as a scrape reports them."""
    out: dict[str, dict[Any, int]] = {"deliveries": {}, "attempts": {}}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == "signoff_deliveries":
                out["deliveries"][(sample.labels["state"], sample.labels["target_type"])] = int(sample.value)
            elif sample.name == "signoff_delivery_attempts_total":
                out["attempts"][sample.labels["outcome"]] = int(sample.value)
    return out


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
        succeeded_now = metric(second, 'signoff_deliveries{state="succeeded",target_type="request_approval"}')
        if ctx.engine.dialect.name == "postgresql":  # the database keeps the counts: all read now
            assert succeeded_now == counted(ctx)["deliveries"][("succeeded", "request_approval")]
        else:  # the scanned totals are the cached ones until the time to live runs out
            assert succeeded_now == 1

    def test_without_a_cache_every_scrape_counts(self, ctx: Context) -> None:
        registry = CollectorRegistry()
        registry.register(DeliveryCollector(ctx, cache_seconds=0))
        EmbeddedClient(actor="dana", context=ctx).register(unique(), "s3://b/m.pkl")
        once = metric(generate_latest(registry).decode(), 'signoff_delivery_attempts_total{outcome="ok"}')
        EmbeddedClient(actor="dana", context=ctx).register(unique(), "s3://b/m.pkl")
        text = generate_latest(registry).decode()
        assert metric(text, 'signoff_deliveries{state="succeeded",target_type="request_approval"}') == 2
        assert metric(text, 'signoff_delivery_attempts_total{outcome="ok"}') == 2 * once

    def test_the_figures_are_the_rows_counted_through_inserts_updates_and_deletes(self, ctx: Context) -> None:
        """On PostgreSQL the counts come from the triggers' tallies, folded or not; they must
        equal a count over the rows after every kind of write (on SQLite they are that count)."""
        registry = CollectorRegistry()
        registry.register(DeliveryCollector(ctx, cache_seconds=0))
        client = EmbeddedClient(actor="dana", context=ctx)
        for _ in range(4):
            client.register(unique(), "s3://b/m.pkl")
        assert scraped(registry) == counted(ctx) and counted(ctx)["attempts"]
        with ctx.engine.begin() as conn:  # several rows change state in one statement, some stay put
            first = conn.execute(select(func.min(DeliveryRow.id))).scalar_one()
            conn.execute(update(DeliveryRow).where(DeliveryRow.id <= first + 2).values(state="dead"))
            conn.execute(update(DeliveryRow).where(DeliveryRow.id == first + 3).values(attempts=7))  # no move
            conn.execute(update(DeliveryAttemptRow).where(DeliveryAttemptRow.delivery_id == first)
                         .values(outcome="final"))
        assert scraped(registry) == counted(ctx)
        if ctx.engine.dialect.name == "postgresql":
            with ctx.engine.begin() as conn:
                conn.execute(text("SELECT signoff_fold_delivery_tallies()"))
                kept = conn.execute(text("SELECT count(*) FROM delivery_tallies")).scalar_one()
            assert kept == len(counted(ctx)["deliveries"]) + len(counted(ctx)["attempts"])  # one row per label
        with ctx.engine.begin() as conn:  # as `signoff prune` removes finished deliveries
            conn.execute(delete(DeliveryAttemptRow).where(DeliveryAttemptRow.delivery_id == first + 1))
            conn.execute(delete(DeliveryRow).where(DeliveryRow.id == first + 1))
        client.register(unique(), "s3://b/m.pkl")
        assert scraped(registry) == counted(ctx)
        with ctx.engine.begin() as conn:  # every dead letter gone: the label goes, as a count would drop it
            dead = select(DeliveryRow.id).where(DeliveryRow.state == "dead")
            conn.execute(delete(DeliveryAttemptRow).where(DeliveryAttemptRow.delivery_id.in_(dead)))
            conn.execute(delete(DeliveryRow).where(DeliveryRow.state == "dead"))
        figures = scraped(registry)
        assert figures == counted(ctx) and not any(state == "dead" for state, _ in figures["deliveries"])

    def test_counting_makes_no_writer_wait_for_another(self, ctx: Context) -> None:
        """Tallies are appended, never updated in place, and folding skips when another
        transaction is folding: two open transactions moving deliveries never block each other."""
        if ctx.engine.dialect.name != "postgresql":
            pytest.skip("SQLite serialises writers anyway; the tallies are PostgreSQL's")
        client = EmbeddedClient(actor="dana", context=ctx)
        client.register(unique(), "s3://b/m.pkl")
        client.register(unique(), "s3://b/m.pkl")
        with ctx.engine.connect() as conn:
            a, b = conn.execute(select(DeliveryRow.id).order_by(DeliveryRow.id).limit(2)).scalars()
        one, two = ctx.engine.connect(), ctx.engine.connect()
        try:
            one.begin()
            one.execute(update(DeliveryRow).where(DeliveryRow.id == a).values(state="dead"))
            one.execute(text("SELECT signoff_fold_delivery_tallies()"))  # holds the folding lock
            two.begin()
            two.execute(text("SET LOCAL lock_timeout = '2s'"))
            two.execute(update(DeliveryRow).where(DeliveryRow.id == b).values(state="dead"))
            two.execute(text("SELECT signoff_fold_delivery_tallies()"))  # skips: no wait, no error
            two.commit()
            one.commit()
        finally:
            one.close()
            two.close()
        registry = CollectorRegistry()
        registry.register(DeliveryCollector(ctx))
        assert scraped(registry) == counted(ctx)
