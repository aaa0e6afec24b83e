"""Group commit of registrations (adapters/db/group_commit.py) and the savepoint each use
case gets in a shared transaction (UnitOfWork.part): a refused registration leaves no trace, the
others commit with their audit entries and events, numbers stay gapless, the chain verifies."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future

import pytest
from sqlalchemy import func, select

from signoff.adapters.db.tables import AuditRow, ModelRow, OutboxRow, VersionRow
from signoff.bootstrap import Context
from signoff.domain.models import ModelVersion
from signoff.domain.workflow import Workflow
from signoff.errors import InvalidInput
from signoff.services import queries, registry
from signoff.adapters.db.group_commit import GroupCommit
from signoff.services.ports import UnitOfWork


@pytest.fixture(autouse=True)
def no_inline_dispatch(ctx: Context) -> None:
    """As in the API server that uses the writer: events wait in the outbox for a worker, so
    what is counted here is what the registrations themselves wrote."""
    ctx.dispatch_inline = False


class RegistrationWriter:
    """The writer as the API uses it: registry.register_in submitted, keyed by model."""

    def __init__(self, new_uow: Callable[[], UnitOfWork], workflow: Workflow) -> None:
        self.commits: GroupCommit[ModelVersion] = GroupCommit(new_uow)
        self.workflow = workflow

    def submit(self, **details: object) -> Future[ModelVersion]:
        return self.commits.submit(lambda uow: registry.register_in(uow=uow, workflow=self.workflow, **details),
                                   key=str(details["model"]))

    def close(self) -> None:
        self.commits.close()

    @property
    def batches(self) -> int:
        return self.commits.batches

    @property
    def registrations(self) -> int:
        return self.commits.submitted


def count(ctx: Context, table: type, **where: object) -> int:
    with ctx.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        stmt = select(func.count()).select_from(table)
        for column, value in where.items():
            stmt = stmt.where(getattr(table, column) == value)
        return int(conn.execute(stmt).scalar_one())


def numbers(ctx: Context, model: str) -> list[int]:
    return sorted(v.number for v in registry.list_versions(uow=ctx.uow(), workflow=ctx.workflow, model=model,
                                                           limit=500))


def assert_chain_valid(ctx: Context) -> None:
    report = queries.verify_audit(uow=ctx.uow())
    assert report.ok, report


class TestOneTransactionManyUseCases:
    def test_a_part_refused_half_way_leaves_nothing_and_the_others_commit(self, ctx: Context) -> None:
        audit_before, events_before = count(ctx, AuditRow), count(ctx, OutboxRow)
        uow = ctx.uow()
        with uow:
            with uow.batch_member():
                registry.register_in(uow=uow, workflow=ctx.workflow, model="kept", artifact_uri="s3://a", actor="dana")
            with pytest.raises(InvalidInput), uow.batch_member():
                # A new model and its first version are written, then the use case is refused.
                registry.register_in(uow=uow, workflow=ctx.workflow, model="fresh", artifact_uri="s3://b",
                                     actor="dana")
                raise InvalidInput("refused half-way")
            with uow.batch_member():  # the same new model again: created anew, not the rolled-back row
                registry.register_in(uow=uow, workflow=ctx.workflow, model="fresh", artifact_uri="s3://c",
                                     actor="rita")
            uow.commit()
        assert numbers(ctx, "kept") == [1] and numbers(ctx, "fresh") == [1]
        fresh = registry.get_version(uow=ctx.uow(), workflow=ctx.workflow, model="fresh", version=1)
        assert fresh.artifact_uri == "s3://c" and fresh.registered_by == "rita"
        # Each new model's creation and its first version; nothing of the refused part.
        with ctx.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            entries = conn.execute(select(AuditRow.action, AuditRow.actor, AuditRow.subject)
                                   .order_by(AuditRow.id).offset(audit_before)).all()
        assert [tuple(e) for e in entries] == [
            ("model.created", "dana", "models/kept"), ("version.registered", "dana", "models/kept/versions/1"),
            ("model.created", "rita", "models/fresh"), ("version.registered", "rita", "models/fresh/versions/1")]
        assert count(ctx, OutboxRow) - events_before == 2
        assert count(ctx, ModelRow, name="fresh") == 1
        assert_chain_valid(ctx)


@pytest.fixture
def held_writer(ctx: Context) -> Iterator[tuple[RegistrationWriter, threading.Event]]:
    """A writer whose first transaction waits for `release`, so what is submitted meanwhile
    queues up and is committed as one batch."""
    started, release = threading.Event(), threading.Event()

    def new_uow() -> UnitOfWork:
        if not release.is_set():
            started.set()
            release.wait(20)
        return ctx.uow()

    writer = RegistrationWriter(new_uow, ctx.workflow)
    first = writer.submit(model="warm-up", artifact_uri="s3://w", actor="dana")
    assert started.wait(20)
    yield writer, release
    release.set()
    first.result(20)
    writer.close()


def outcomes(futures: list[Future[ModelVersion]]) -> list[int | str]:
    out: list[int | str] = []
    for f in futures:
        try:
            out.append(f.result(20).number)
        except Exception as exc:  # noqa: BLE001 - the test compares what each registration got
            out.append(type(exc).__name__)
    return out


class TestTheWriter:
    def test_queued_registrations_share_one_commit_and_refusals_stay_alone(
            self, ctx: Context, held_writer: tuple[RegistrationWriter, threading.Event]) -> None:
        writer, release = held_writer
        audit_before, events_before = count(ctx, AuditRow), count(ctx, OutboxRow)
        submit: Callable[..., Future[ModelVersion]] = writer.submit
        futures = [submit(model="batch", artifact_uri=f"s3://b/{i}", actor="dana",
                          metrics={"acc": float("nan")} if i in (3, 7) else {"acc": 0.9})
                   for i in range(10)]
        release.set()
        assert outcomes(futures) == [1, 2, 3, "InvalidInput", 4, 5, 6, "InvalidInput", 7, 8]
        assert (writer.batches, writer.registrations) == (2, 11)  # the warm-up alone, then the ten together
        assert numbers(ctx, "batch") == list(range(1, 9))
        # The held warm-up commits after the counts were taken. A model's first registration also
        # records its creation: (model + 1 version) + (model + 8 versions); one event per version.
        assert count(ctx, AuditRow) - audit_before == 2 + 9
        assert count(ctx, OutboxRow) - events_before == 1 + 8
        assert_chain_valid(ctx)

    def test_a_failure_that_spoils_the_transaction_sends_each_one_through_alone(
            self, ctx: Context, held_writer: tuple[RegistrationWriter, threading.Event]) -> None:
        writer, release = held_writer
        futures = [writer.submit(model="spoiled", artifact_uri=f"s3://s/{i}", actor="dana",
                                 metadata={"unstorable": object()} if i == 2 else {})
                   for i in range(5)]
        release.set()
        assert outcomes(futures) == [1, 2, "TypeError", 3, 4]
        assert numbers(ctx, "spoiled") == [1, 2, 3, 4]
        assert count(ctx, VersionRow) == 5  # the four and the warm-up
        assert_chain_valid(ctx)

    def test_after_close_it_refuses_new_work_and_what_was_queued_is_committed(self, ctx: Context) -> None:
        writer = RegistrationWriter(ctx.uow, ctx.workflow)
        futures = [writer.submit(model="closing", artifact_uri=f"s3://c/{i}", actor="dana") for i in range(5)]
        writer.close()
        assert outcomes(futures) == [1, 2, 3, 4, 5]
        with pytest.raises(Exception, match="shutting down"):
            writer.submit(model="closing", artifact_uri="s3://late", actor="dana")

    def test_many_threads_submitting_get_gapless_numbers(self, ctx: Context) -> None:
        writer = RegistrationWriter(ctx.uow, ctx.workflow)
        results: list[int] = []
        lock = threading.Lock()

        def client() -> None:
            for i in range(20):
                number = writer.submit(model="crowd", artifact_uri=f"s3://c/{i}", actor="dana").result(60).number
                with lock:
                    results.append(number)

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        writer.close()
        assert sorted(results) == list(range(1, 161)) == numbers(ctx, "crowd")
        assert writer.registrations == 160 and writer.batches < 160  # some shared a commit
        assert_chain_valid(ctx)
