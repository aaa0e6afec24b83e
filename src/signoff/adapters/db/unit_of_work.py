"""Unit of work: one use case, one transaction, its audit entries and outbox events included.

Rolls back unless ``commit()`` was called. Events and audit entries collected during the use
case are written just before the commit, so they exist exactly when the change does. So are
the PostgreSQL notifications (adapters/db/notify.py): new outbox rows wake workers, and a moved
live pointer (``live_moved``) drops that model from every process's resolve cache, both
delivered only if the transaction commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from signoff.adapters.db.accounts import UserRepository
from signoff.adapters.db.audit_log import AuditRepository
from signoff.adapters.db.aws_keys import AwsKeyRepository
from signoff.adapters.db.deliveries import DeliveryRepository
from signoff.adapters.db.engine import READ_ONLY
from signoff.adapters.db.history import HistoryRepository
from signoff.adapters.db.live import LiveRepository
from signoff.adapters.db.mismatches import MismatchRepository
from signoff.adapters.db.mlflow import MlflowRepository
from signoff.adapters.db.models import ModelRepository
from signoff.adapters.db.notify import LIVE_CHANNEL, announce
from signoff.adapters.db.outbox import OutboxRepository
from signoff.adapters.db.parameters import ParameterRepository
from signoff.adapters.db.prepared import execute_fixed
from signoff.adapters.db.profiles import ProfileRepository
from signoff.adapters.db.reports import ReportRepository
from signoff.adapters.db.requests import RequestRepository
from signoff.adapters.db.retention import RetentionRepository
from signoff.adapters.db.revocations import RevocationRepository
from signoff.adapters.db.rules import RuleRepository
from signoff.adapters.db.search import SearchRepository
from signoff.adapters.db.signing_records import (
    AttestationRepository,
    CheckpointRepository,
    SignatureRepository,
    StateRepository,
    VerificationRepository,
)
from signoff.adapters.db.tokens import TokenRepository
from signoff.adapters.db.versions import VersionRepository
from signoff.adapters.db.web_sessions import WebSessionRepository
from signoff.domain.audit import AuditEntry
from signoff.domain.events import Event
from signoff.services import repositories as ports
from signoff.services.ports import Clock


class SqlAlchemyUnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session], clock: Clock, *, read_only: bool = False) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.read_only = read_only
        self.after_commit: list[Callable[[], None]] = []
        # The server's key ring (adapters/keys.py): attestations are signed inside the transaction
        # that moves a live pointer. None: nothing is signed (a context built without keys).
        self.signer: Any = None

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        self.session = self.session_factory()
        if self.read_only:
            # Begins now, DEFERRED on SQLite: a read never queues behind this process's writers.
            self.session.connection(execution_options=READ_ONLY)
        self.models: ports.ModelRepository = ModelRepository(self.session)
        self.versions: ports.VersionRepository = VersionRepository(self.session)
        self.live: ports.LiveRepository = LiveRepository(self.session)
        self.requests: ports.RequestRepository = RequestRepository(self.session)
        self.reports: ports.ReportRepository = ReportRepository(self.session)
        self.params: ports.ParameterRepository = ParameterRepository(self.session)
        self.audit: ports.AuditRepository = AuditRepository(self.session)
        self.outbox: ports.OutboxRepository = OutboxRepository(self.session)
        self.users: ports.UserRepository = UserRepository(self.session)
        self.rules: ports.RuleRepository = RuleRepository(self.session)
        self.deliveries: ports.DeliveryRepository = DeliveryRepository(self.session)
        self.profiles: ports.ProfileRepository = ProfileRepository(self.session)
        self.tokens: ports.TokenRepository = TokenRepository(self.session)
        self.mlflow: ports.MlflowRepository = MlflowRepository(self.session)  # the MLflow bridge (services/mlflow_bridge.py)
        self.aws_keys: ports.AwsKeyRepository = AwsKeyRepository(self.session)
        self.mismatches: ports.MismatchRepository = MismatchRepository(self.session)
        self.attestations: ports.AttestationRepository = AttestationRepository(self.session)
        self.checkpoints: ports.CheckpointRepository = CheckpointRepository(self.session)
        self.verifications: ports.VerificationRepository = VerificationRepository(self.session)
        self.state: ports.StateRepository = StateRepository(self.session)
        self.signatures: ports.SignatureRepository = SignatureRepository(self.session)
        self.retention: ports.RetentionRepository = RetentionRepository(self.session)
        self.web_sessions: ports.WebSessionRepository = WebSessionRepository(self.session)
        self.revocations: ports.RevocationRepository = RevocationRepository(self.session)
        self.search = SearchRepository(self.session)  # searched pages for the web UI (services/search.py)
        self.history = HistoryRepository(self.session)  # pictures' reads (services/history.py)
        self._events: list[Event] = []
        self._audit: list[AuditEntry] = []
        self._live_moved: set[str] = set()
        self._committed = False
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if not self._committed:
                self.session.rollback()
        finally:
            self.session.close()
        if self._committed and exc[0] is None:
            for hook in self.after_commit:
                hook()

    def emit(self, event: Event) -> None:
        self._events.append(event)

    def record(
        self, *, actor: str, action: str, subject: str, model: str | None, before: Any = None, after: Any = None
    ) -> None:
        self._audit.append(AuditEntry(None, self.clock.now(), actor, action, subject, model, before, after))

    @contextmanager
    def batch_member(self) -> Iterator[None]:
        """One use case among several sharing this transaction (adapters/db/group_commit.py).

        If it raises, what it wrote is rolled back to a savepoint and its audit entries, events
        and moved pointers are dropped, so the others commit as if it had never run. The ORM's
        identity map is emptied too: a rolled-back INSERT may have left a row object in it.
        """
        marks = (len(self._events), len(self._audit), set(self._live_moved))
        execute_fixed(self.session, "SAVEPOINT signoff_part")
        try:
            yield
        except BaseException:
            execute_fixed(self.session, "ROLLBACK TO SAVEPOINT signoff_part")
            execute_fixed(self.session, "RELEASE SAVEPOINT signoff_part")
            del self._events[marks[0]:], self._audit[marks[1]:]
            self._live_moved = marks[2]
            self.session.expunge_all()
            raise
        execute_fixed(self.session, "RELEASE SAVEPOINT signoff_part")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Writes inside are undone together if the block raises; the transaction goes on."""
        with self.session.begin_nested():
            yield

    def flush(self) -> None:
        self.session.flush()

    def live_moved(self, model: str) -> None:
        """A live row of `model` changes in this transaction: resolve caches must drop the model."""
        self._live_moved.add(model)

    @property
    def events(self) -> list[Event]:
        return list(self._events)

    @property
    def moved_live(self) -> frozenset[str]:
        """Models whose live pointers this unit of work moved (read after the commit)."""
        return frozenset(self._live_moved)

    def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        now = self.clock.now()
        self.outbox.add_many(self._events, now)
        for model in sorted(self._live_moved):
            announce(self.session, LIVE_CHANNEL, model)
        # Audit last: on PostgreSQL the chain lock is then held only for the commit itself.
        self.audit.append_many(self._audit)
        self.session.commit()
        self._committed = True

    def rollback(self) -> None:
        self.session.rollback()
