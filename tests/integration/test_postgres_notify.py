"""LISTEN/NOTIFY on a real PostgreSQL: workers wake on commits, resolve caches drop moved pointers.

Each test makes the notification the only explanation for what it sees: workers poll every
30 s, caches hold entries for 30 s, and the deliveries and resolves must still be prompt.
Staleness bounds are checked with changes that send no notification (a direct UPDATE).
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from tests.conftest import DIGEST, make_settings, unique
from tests.fixtures.servers import PostgresServer, WebhookReceiver

from signoff.adapters.db.live_cache import CachedLiveReader
from signoff.adapters.db.live_reader import LiveReader
from signoff.bootstrap import Context, bootstrap
from signoff.domain.events import Event
from signoff.entrypoints.api import create_app
from signoff.entrypoints.worker import Worker
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import tokens

LONG = 30.0  # poll interval / cache bound far longer than any test waits


def wait_until(check: Callable[[], Any], timeout: float, what: str, step: float = 0.002) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"{what} not reached within {timeout}s")


class Pg:
    """A database of the test's own, its contexts, and a superuser connection to poke at it."""

    def __init__(self, server: PostgresServer, url: str, tmp: Path) -> None:
        self.server, self.url, self.tmp = server, url, tmp
        self.name = url.rsplit("/", 1)[1]
        self.admin = psycopg.connect(server.dsn.rsplit("/", 1)[0] + "/" + self.name, autocommit=True)
        self.superuser = psycopg.connect(server.dsn, autocommit=True)  # another database: it may lock ours
        self.contexts: list[Context] = []

    def context(self, *, cache: float = LONG, **events: Any) -> Context:
        settings = make_settings(self.tmp / f"p{len(self.contexts)}", database_url=self.url,
                                 server={"resolve_cache_seconds": cache}, events=events or {})
        ctx = bootstrap(settings)  # the database is a copy of a migrated template
        self.contexts.append(ctx)
        return ctx

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        cur = self.admin.execute(query, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []

    def kill(self, pid: int | None) -> None:
        assert pid is not None
        assert self.superuser.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchall() == [(True,)]

    def allow_connections(self, allowed: bool) -> None:
        self.superuser.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS {str(allowed).lower()}')  # type: ignore[arg-type]

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()
        self.allow_connections(True)
        self.admin.close()
        self.superuser.close()


@pytest.fixture
def pg(postgres_server: PostgresServer, postgres_template: str, tmp_path: Path) -> Iterator[Pg]:
    name = f"n_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')  # type: ignore[arg-type]
    harness = Pg(postgres_server, postgres_server.url_for(name), tmp_path)
    yield harness
    harness.close()
    postgres_server.drop_database(name)


def live_in_dev(ctx: Context, model: str, artifact: str = "s3://b/m.pkl") -> int:
    """Register a version and approve it for dev (inline dispatch opens the request)."""
    version = int(EmbeddedClient(actor="dana", context=ctx).register(model, artifact, digest=DIGEST)["version"])
    EmbeddedClient(actor="rita", context=ctx).approve(model, version, "dev")
    return version


def resolved(ctx: Context, model: str) -> Any:
    return EmbeddedClient(actor="dana", context=ctx).resolve(model, "dev")


def emit(ctx: Context, n: int = 1) -> None:
    with ctx.uow() as uow:
        for i in range(n):
            uow.emit(Event("test.notify", f"tests/{i}", {"i": i}))
        uow.commit()


class TestWorkersWakeOnNotify:
    def test_a_worker_process_polling_every_30s_delivers_a_commit_within_a_second(
        self, pg: Pg, webhook_receiver: WebhookReceiver
    ) -> None:
        ctx = pg.context(inline=False)
        EmbeddedClient(actor="olga", context=ctx).add_rule(
            "notify-hook", {"type": ["test.notify"]}, [{"type": "webhook", "url": webhook_receiver.url}])
        (pg.tmp / "signoff.toml").write_text(f"[events]\ninline = false\nlisten_poll_interval = {LONG}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
        env.update(SIGNOFF_CONFIG=str(pg.tmp / "signoff.toml"), SIGNOFF_DATABASE_URL=pg.url,
                   PYTHONPATH=os.pathsep.join(sys.path))
        log = pg.tmp / "worker.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "signoff.entrypoints.cli", "worker", "--poll-interval",
                                     str(LONG)], env=env, cwd=pg.tmp, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: pg.sql("SELECT 1 FROM pg_stat_activity WHERE application_name LIKE "
                                      "'signoff-worker:%%' AND query LIKE 'LISTEN%%'"), 30,
                       "the worker's LISTEN", step=0.05)
            time.sleep(0.3)  # past its first look at the outbox: from now on it sleeps 30 s
            latencies = []
            for n in range(1, 4):
                started = time.monotonic()
                emit(ctx)
                wait_until(lambda n=n: len(webhook_receiver.requests) >= n, 5, f"delivery {n}\n{log.read_text()}")
                latencies.append(time.monotonic() - started)
                time.sleep(0.1)
            assert max(latencies) < 1.0, latencies
            assert "woken by NOTIFY" in log.read_text()
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    def test_a_killed_listen_connection_is_replaced_and_polling_is_fast_while_it_is_down(
        self, pg: Pg, webhook_receiver: WebhookReceiver
    ) -> None:
        ctx = pg.context(inline=False, poll_interval=0.05, listen_poll_interval=LONG)
        EmbeddedClient(actor="olga", context=ctx).add_rule(
            "notify-hook", {"type": ["test.notify"]}, [{"type": "webhook", "url": webhook_receiver.url}])
        worker = Worker(ctx, name="reconnecting").start()
        try:
            listener = worker.listener
            assert listener is not None and listener.wait_connected(10)
            assert worker.idle_wait() == LONG
            first_pid = listener.backend_pid

            warm = [ctx.engine.connect() for _ in range(5)]  # the pool keeps these for the outage
            for conn in warm:
                conn.close()
            pg.allow_connections(False)  # the listener cannot come back until we say so
            pg.kill(first_pid)
            wait_until(lambda: not listener.connected, 5, "the listener noticing")
            assert worker.idle_wait() == 0.05, "polling takes over at once"
            emit(ctx)
            webhook_receiver.wait_for(1, timeout=5)

            pg.allow_connections(True)
            wait_until(lambda: listener.connected, 10, "the reconnect", step=0.01)
            assert listener.backend_pid != first_pid and listener.connects == 2
            assert worker.idle_wait() == LONG
            time.sleep(0.2)
            started = time.monotonic()
            emit(ctx)
            webhook_receiver.wait_for(2, timeout=5)
            assert time.monotonic() - started < 1.0, "woken by the new connection's LISTEN"
        finally:
            worker.stop()

    def test_a_rolled_back_transaction_wakes_nobody(self, pg: Pg) -> None:
        ctx = pg.context()
        woken: list[str] = []
        from signoff.adapters.db.notify import OUTBOX_CHANNEL, Listener

        listener = Listener(ctx.engine, [OUTBOX_CHANNEL], lambda c, p: woken.append(c), name="t").start()
        try:
            assert listener.wait_connected(10)
            with ctx.uow() as uow:
                uow.emit(Event("test.notify", "tests/0", {}))
                uow.outbox.add_many(uow.events, uow.clock.now())  # written, then rolled back
            emit(ctx)
            wait_until(lambda: woken, 5, "the committed notification")
            time.sleep(0.1)
            assert woken == [OUTBOX_CHANNEL]
        finally:
            listener.stop()


class TestResolveCacheAcrossApiProcesses:
    def test_an_approval_in_one_process_reaches_the_others_cache_at_once(self, pg: Pg) -> None:
        writer, reader = pg.context(), pg.context()
        assert isinstance(reader.reader, CachedLiveReader)
        model = unique()
        live_in_dev(writer, model)
        assert reader.reader.listener.wait_connected(10)
        assert resolved(reader, model)["version"] == 1
        reads = reader.reader.reads
        for _ in range(100):
            assert resolved(reader, model)["version"] == 1
        assert reader.reader.reads == reads, "served from the cache"

        started = time.monotonic()
        live_in_dev(writer, model, "s3://b/m2.pkl")
        wait_until(lambda: resolved(reader, model)["version"] == 2, 2, "the new version in the other process")
        assert time.monotonic() - started < 1.0  # the bound is 30 s: only the notification explains it

    def test_the_committing_process_reads_its_own_write_at_once(self, pg: Pg) -> None:
        ctx = pg.context()
        model = unique()
        live_in_dev(ctx, model)
        assert ctx.reader.listener.wait_connected(10)  # type: ignore[attr-defined]
        assert resolved(ctx, model)["version"] == 1
        assert resolved(ctx, model)["version"] == 1
        live_in_dev(ctx, model)
        assert resolved(ctx, model)["version"] == 2, "no wait for the NOTIFY to come back"

    def test_a_revocation_in_one_process_empties_the_others_answer_at_once(self, pg: Pg) -> None:
        ctx, other = pg.context(), pg.context()
        model = unique()
        live_in_dev(ctx, model)
        assert other.reader.listener.wait_connected(10)  # type: ignore[attr-defined]
        assert resolved(other, model)["version"] == 1
        assert resolved(other, model)["version"] == 1
        EmbeddedClient(actor="ron", context=ctx).revoke(model, 1, "dev", reason="bad data")
        wait_until(lambda: _nothing_live(other, model), 2, "the revocation in the other process")

    def test_a_change_without_a_notification_is_served_no_later_than_the_bound(self, pg: Pg) -> None:
        writer, reader = pg.context(), pg.context(cache=0.5)
        model = unique()
        live_in_dev(writer, model)
        assert reader.reader.listener.wait_connected(10)  # type: ignore[attr-defined]
        assert resolved(reader, model)["artifact_uri"] == "s3://b/m.pkl"
        changed = time.monotonic()
        pg.sql("UPDATE live_versions SET artifact_uri = 's3://b/behind-our-back.pkl' WHERE model_name = %s", model)
        seen = []
        while time.monotonic() - changed < 2:
            seen.append((time.monotonic() - changed, resolved(reader, model)["artifact_uri"]))
            if seen[-1][1].endswith("behind-our-back.pkl"):
                break
            time.sleep(0.005)
        assert seen[0][1] == "s3://b/m.pkl", "the cache was in use"
        assert seen[-1][1].endswith("behind-our-back.pkl") and seen[-1][0] <= 0.5 + 0.1, seen[-1]

    def test_while_the_listener_is_down_resolve_reads_the_database_and_a_reconnect_empties_the_cache(
        self, pg: Pg
    ) -> None:
        writer, reader = pg.context(), pg.context()
        cache = reader.reader
        assert isinstance(cache, CachedLiveReader)
        model = unique()
        live_in_dev(writer, model)
        assert cache.listener.wait_connected(10)
        assert resolved(reader, model)["artifact_uri"] == "s3://b/m.pkl"
        # Made now: the client checks its actor on a pooled connection, and resolve's reader has kept
        # the pool's only one for itself, so that check would need a new connection in the outage below.
        client = EmbeddedClient(actor="dana", context=reader)

        pg.allow_connections(False)
        pg.kill(cache.listener.backend_pid)
        wait_until(lambda: not cache.listener.connected, 5, "the listener noticing")
        pg.sql("UPDATE live_versions SET artifact_uri = 's3://b/x.pkl' WHERE model_name = %s", model)
        reads = cache.reads
        assert client.resolve(model, "dev")["artifact_uri"] == "s3://b/x.pkl", "bypassed, not served from cache"
        assert client.resolve(model, "dev")["artifact_uri"] == "s3://b/x.pkl"
        assert cache.reads == reads + 2

        pg.allow_connections(True)
        wait_until(lambda: cache.listener.connected, 10, "the reconnect", step=0.01)
        pg.sql("UPDATE live_versions SET artifact_uri = 's3://b/y.pkl' WHERE model_name = %s", model)
        pg.kill(cache.listener.backend_pid)  # this time it comes straight back …
        wait_until(lambda: cache.listener.connects == 3 and cache.listener.connected, 10, "the second reconnect",
                   step=0.01)
        # … and whatever it may have missed meanwhile is read again, despite the 30 s bound.
        assert resolved(reader, model)["artifact_uri"] == "s3://b/y.pkl"


class TestRepeatedResolvesStayOffTheDatabase:
    def _backend(self, pg: Pg) -> tuple[int, Any]:
        """The one backend that has run resolve's query: (pid, when it last ran a statement)."""
        rows = pg.sql("SELECT pid, query_start FROM pg_stat_activity WHERE datname = %s "
                      "AND query LIKE '%%FROM live_versions%%' AND pid <> pg_backend_pid()", pg.name)
        assert len(rows) == 1, rows
        return rows[0]

    @staticmethod
    def _settle(reader: Any, model: str) -> None:
        """Resolve until 200 ms pass without a database read: the writer's notifications can
        arrive after its commit returned, and each one rightly drops the cached entry."""
        deadline = time.monotonic() + 10
        while True:
            resolved(reader, model)
            if not isinstance(reader.reader, CachedLiveReader):
                return  # the control: every resolve reads
            reads = reader.reader.reads
            time.sleep(0.2)
            resolved(reader, model)
            if reader.reader.reads == reads or time.monotonic() > deadline:
                return

    @pytest.mark.parametrize("cache", [LONG, 0.0], ids=["cached", "uncached"])
    def test_a_thousand_resolves_run_no_statement_when_cached(self, pg: Pg, cache: float) -> None:
        writer, reader = pg.context(), pg.context(cache=cache)
        assert isinstance(reader.reader, CachedLiveReader) is bool(cache)
        model = unique()
        live_in_dev(writer, model)
        if cache:
            assert reader.reader.listener.wait_connected(10)  # type: ignore[attr-defined]
        self._settle(reader, model)
        before, reads = self._backend(pg), reader.reader.reads
        time.sleep(0.01)
        for _ in range(1000):
            resolved(reader, model)
        after = self._backend(pg)
        if cache:
            assert after == before and reader.reader.reads == reads
        else:  # the control: the same measurement sees every read when nothing is cached
            assert after[1] > before[1] and reader.reader.reads == reads + 1000

    def test_the_http_resolve_keeps_its_etag_and_304_and_sees_a_new_version_at_once(self, pg: Pg) -> None:
        writer, reader = pg.context(), pg.context()
        model = unique()
        live_in_dev(writer, model)
        token, _ = tokens.create_token(uow=reader.uow(), user="dana", scopes=["resolve"], actor="test")
        headers = {"Authorization": f"Bearer {token}"}
        path = f"/api/v1/models/{model}/environments/dev"
        assert reader.reader.listener.wait_connected(10)  # type: ignore[attr-defined]
        with TestClient(create_app(reader)) as http:
            first = http.get(path, headers=headers)
            assert first.status_code == 200 and first.json()["version"] == 1
            etag = first.headers["etag"]
            reads = reader.reader.reads
            for _ in range(50):
                again = http.get(path, headers={**headers, "If-None-Match": etag})
                assert again.status_code == 304 and again.headers["etag"] == etag and again.content == b""
            assert http.get(path, headers=headers).content == first.content
            assert reader.reader.reads == reads

            live_in_dev(writer, model)
            fresh = wait_until(lambda: (r := http.get(path, headers={**headers, "If-None-Match": etag})).status_code
                               == 200 and r, 2, "the new version over HTTP")
            assert fresh.json()["version"] == 2 and fresh.headers["etag"] != etag


class TestResolveConnections:
    def test_resolving_on_threads_that_end_leaves_no_autocommit_connection_in_the_pool(self, pg: Pg) -> None:
        # Units of work take pooled connections and expect BEGIN to happen; one left in
        # autocommit mode by resolve would commit statement by statement (found on PostgreSQL:
        # "SAVEPOINT can only be used in transaction blocks").
        ctx = pg.context(cache=0)
        model = unique()
        live_in_dev(ctx, model)
        for _ in range(3):
            thread = threading.Thread(target=resolved, args=(ctx, model))
            thread.start()
            thread.join()
        gc.collect()
        pooled = [ctx.engine.raw_connection() for _ in range(ctx.engine.pool.checkedin() + 1)]  # type: ignore[attr-defined]
        try:
            assert not any(conn.driver_connection.autocommit for conn in pooled)  # type: ignore[union-attr]
        finally:
            for conn in pooled:
                conn.close()
        live_in_dev(ctx, model)  # a whole use case with its SAVEPOINTs still runs
        assert resolved(ctx, model)["version"] == 2


def _nothing_live(ctx: Context, model: str) -> bool:
    from signoff.errors import NotFound

    try:
        resolved(ctx, model)
    except NotFound:
        return True
    return False


def test_sqlite_never_gets_the_time_bound_cache(tmp_path: Path) -> None:
    # SQLite's cache is exact (emptied by any commit: test_resolve_cache_sqlite.py), never a TTL one.
    from signoff.adapters.db.live_sqlite import DataVersionLiveReader

    ctx = bootstrap(make_settings(tmp_path, server={"resolve_cache_seconds": LONG},
                                  database_url=f"sqlite:///{tmp_path / 'signoff.db'}"))  # also on PG's pass
    try:
        assert type(ctx.reader) is DataVersionLiveReader and isinstance(ctx.reader, LiveReader)
    finally:
        ctx.close()
