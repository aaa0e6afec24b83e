"""The composition root: settings → engine → unit of work → services' ports.

Every entrypoint (CLI, API, worker, embedded SDK) builds one ``Context`` here and passes it
down; nothing else creates engines or reads settings.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from signoff.adapters.db import migrate
from signoff.adapters.db.engine import build_engine, is_sqlite
from signoff.adapters.db.unit_of_work import SqlAlchemyUnitOfWork
from signoff.adapters.artifacts import ArtifactFiles
from signoff.adapters.keys import KeyRing
from signoff.config import Settings, load_settings
from signoff.domain.workflow import Workflow, build_workflow
from signoff.errors import ServiceUnavailable
from signoff.services.accounts import sync_config_users
from signoff.services.artifacts import install_reader
from signoff.adapters.db.live_reader import LiveReader
from signoff.services.ports import Clock, SystemClock
from signoff.services.rules import sync_rules as _sync_rules

if TYPE_CHECKING:
    from signoff.adapters.db.group_commit import GroupCommit
    from signoff.domain.models import ModelVersion
    from signoff.services.dispatch import Dispatcher
    from signoff.services.mlflow_bridge import Bridge
    from signoff.services.identity import Directory
    from signoff.services.retention import RetentionPolicy
    from signoff.services.signin_throttle import SigninThrottle

T = TypeVar("T")
log = logging.getLogger("signoff.events")


@dataclass
class Context:
    settings: Settings
    engine: Engine
    workflow: Workflow
    clock: Clock
    session_factory: sessionmaker[Session]
    reader: LiveReader
    # Built on first use and shared by the API and the web UI of this process: the identity
    # providers (LDAP connection pool, OIDC client, membership cache; adapters/identity.py) and the
    # sign-in throttle (entrypoints/signin_guard.py).
    directory: Directory | None = None
    signin_throttle: SigninThrottle | None = None
    keys: KeyRing | None = None  # the signing keys; every unit of work signs with them
    # Event bus: dispatch right after a commit that wrote events (embedded use), and callbacks
    # (an in-process worker's wake-up) told about such commits.
    dispatch_inline: bool = False
    listeners: list[Callable[[], None]] = field(default_factory=list)
    _inline: Dispatcher | None = field(default=None, repr=False)
    # Re-entrant: building one shared object may need another (built_once).
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def uow(self) -> SqlAlchemyUnitOfWork:
        uow = self.uow_without_dispatch()
        uow.after_commit.append(lambda: self.events_committed() if uow.events else None)
        return uow

    def read_uow(self) -> SqlAlchemyUnitOfWork:
        """A unit of work for use cases that only read: it cannot commit, and on SQLite it
        begins DEFERRED, so it never waits for the writer gate (adapters/db/engine.py)."""
        return SqlAlchemyUnitOfWork(self.session_factory, self.clock, read_only=True)

    def uow_without_dispatch(self) -> SqlAlchemyUnitOfWork:
        """A unit of work without the after-commit dispatch (the dispatcher's own transactions)."""
        uow = SqlAlchemyUnitOfWork(self.session_factory, self.clock)
        uow.signer = self.keys
        # Read-your-writes: this process's resolve cache drops a moved pointer at once rather
        # than when its own NOTIFY comes back.
        uow.after_commit.append(lambda: self.reader.invalidate(uow.moved_live) if uow.moved_live else None)
        return uow

    def events_committed(self) -> None:
        """New events are in the outbox: wake in-process workers, and dispatch inline if on."""
        for listener in list(self.listeners):
            listener()
        if self.dispatch_inline:
            try:
                self.inline_dispatcher().drain(budget=self.settings.events.inline_timeout * 2)
            except Exception:  # the use case committed; whatever is left waits for the next drain
                log.warning("inline dispatch failed; pending events stay queued", exc_info=True)

    @property
    def inline_drain(self) -> Callable[[], None] | None:
        """For work queued without a new event (a replayed delivery): run it now, when dispatch is inline."""
        return self.events_committed if self.dispatch_inline else None

    def inline_dispatcher(self) -> Dispatcher:
        owner = f"inline:{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        return self.built_once("_inline", lambda: build_dispatcher(self, owner=owner, inline=True))

    def built_once(self, attribute: str, build: Callable[[], T]) -> T:
        """The object this Context keeps in `attribute`, built by `build` the first time it is
        asked for and shared by every thread after that (the inline dispatcher, the identity
        providers, the sign-in throttle)."""
        found: T | None = getattr(self, attribute)
        if found is None:
            with self._lock:
                found = getattr(self, attribute)
                if found is None:
                    found = build()
                    setattr(self, attribute, found)
        return found

    def close(self) -> None:
        if self._inline is not None:
            self._inline.close()
        directory, self.directory = self.directory, None  # LDAP connections, OIDC HTTP client
        if directory is not None:
            directory.close()
        self.reader.close()
        self.engine.dispose()


def workflow_from(settings: Settings) -> Workflow:
    envs = settings.environments
    policies = envs.policies()
    if settings.signing.part11:  # every environment signs unless its policy says otherwise
        policies = {env: p.model_copy(update={"signature": "reauth"}) if p.signature is None else p
                    for env, p in policies.items()}
    return build_workflow(list(envs.order), policies)


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    migrate_schema: bool | None = None,
    sync_users: bool = True,
    sync_rules: bool = True,
    retire_config_users: bool = False,
    say: Callable[[str], None] | None = None,
) -> Context:
    """Wire everything; on SQLite the schema is brought up to date automatically.

    `retire_config_users` (a server starting): config users no longer declared are disabled.
    Other entrypoints (the CLI, the SDK) may run with a partial config and must not do that.
    The signing keys are loaded first (created under the home on first use, announced through
    `say`, stderr by default): a configured key that cannot be read stops here with InvalidInput.
    """
    settings = settings or load_settings()
    workflow = workflow_from(settings)
    keys = signing_keys(settings, clock or SystemClock(), say)
    engine = build_engine(settings.resolved_database_url(), pool=settings.database)
    if migrate_schema is None:
        migrate_schema = is_sqlite(engine)
    if migrate_schema:
        migrate.upgrade(engine)
    elif (sync_users or sync_rules) and migrate.needs_upgrade(engine):
        # Elsewhere migrations are an operator's step (docs/deployment.md); say so instead of
        # failing on a missing table half-way through start-up.
        url = engine.url.render_as_string(hide_password=True)
        engine.dispose()
        raise ServiceUnavailable("the database has migrations to apply: run `signoff db upgrade`",
                                 details={"database": url})
    install_reader(ArtifactFiles())
    ctx = Context(
        settings=settings,
        engine=engine,
        workflow=workflow,
        clock=clock or SystemClock(),
        session_factory=sessionmaker(engine, expire_on_commit=False),
        reader=_live_reader(settings, engine),
        keys=keys,
    )
    if sync_users and (settings.users or retire_config_users):
        from signoff.adapters.passwords import hash_password

        sync_config_users(uow=ctx.uow(), users=_config_users(settings), hash_password=hash_password,
                          retire=retire_config_users)
    if sync_rules:
        _sync_rules(uow=ctx.uow_without_dispatch(), configured=settings.rules, python_targets=settings.events.python_targets,
                    defaults=_default_rules(settings))
    ctx.dispatch_inline = settings.events.inline
    return ctx


def signing_keys(settings: Settings, clock: Clock, say: Callable[[str], None] | None = None) -> KeyRing:
    """The key ring of `[signing]` (adapters/keys.py); raises InvalidInput for an unreadable key."""
    from signoff.adapters.keys import load_keyring

    s = settings.signing
    return load_keyring(key=s.key.get_secret_value() if s.key else None, key_file=s.key_file,
                        home=settings.home, now=clock.now(), say=say)


def _live_reader(settings: Settings, engine: Engine) -> LiveReader:
    """Resolve's reader: cached per process, on PostgreSQL with LISTEN on (see live_cache), on a
    SQLite file while nothing is committed (see live_sqlite)."""
    ttl = settings.server.resolve_cache_seconds
    if is_sqlite(engine):
        path = engine.url.database
        if ttl <= 0 or not path or path == ":memory:":
            return LiveReader(engine)
        from signoff.adapters.db.live_sqlite import DataVersionLiveReader

        return DataVersionLiveReader(engine, path)
    if ttl <= 0 or not settings.events.listen:
        return LiveReader(engine)
    from signoff.adapters.db.live_cache import CachedLiveReader

    return CachedLiveReader(engine, ttl=ttl, name=f"signoff-resolve:{os.getpid()}")


def registration_writer(ctx: Context) -> GroupCommit[ModelVersion] | None:
    """How a server process commits registrations: through one group-commit writer (adapters/db/
    group_commit.py) on either database when a request has nothing to wait for but its own
    commit, i.e. events are left to workers; with inline dispatch each registration commits in
    its own transaction and waits for its events' rules, which a shared writer would serialise.
    The caller owns the writer (starts on first use; `close()` when the server stops)."""
    if ctx.dispatch_inline:
        return None
    from signoff.adapters.db.group_commit import GroupCommit

    return GroupCommit(ctx.uow, name="signoff-registrations")


def retention_policy(settings: Settings) -> RetentionPolicy:
    """`[retention]` as the service's policy: days to ages, 0 to "keep for ever"."""
    from datetime import timedelta

    from signoff.services.retention import RetentionPolicy

    r = settings.retention

    def age(days: int) -> timedelta | None:
        return timedelta(days=days) if days > 0 else None

    return RetentionPolicy(deliveries=age(r.deliveries_days), dead_letters=age(r.dead_letters_days),
                           events=age(r.events_days), sessions=age(r.sessions_days), tokens=age(r.tokens_days),
                           batch_size=r.batch_size)


def build_dispatcher(ctx: Context, *, owner: str, inline: bool = False, max_connections: int = 32) -> Dispatcher:
    """The event dispatcher with every target wired."""
    from signoff.adapters.python_target import PythonTargets
    from signoff.adapters.smtp import SmtpMailer
    from signoff.adapters.webhooks import HttpTargets
    from signoff.domain.deliveries import RetryPolicy
    from signoff.services.actions import EmailRunner
    from signoff.services.dispatch import Dispatcher

    s = ctx.settings
    from signoff.domain.aws_events import AwsPlace

    http = HttpTargets(public_url=s.server.public_url, max_connections=max_connections,
                       aws_place=AwsPlace(s.aws.region, s.aws.account_id, ctx.workflow.first))
    email = EmailRunner(uow_factory=ctx.uow_without_dispatch, mailer=SmtpMailer(s.smtp),
                        public_url=s.server.public_url, sender=s.smtp.sender, composer=mail_composer(ctx))
    runners: dict[str, Any] = {"webhook": http.webhook, "slack": http.slack, "python": PythonTargets(s.events.python_targets),
                               "email": email}
    closers = [http.close]
    if s.mlflow is not None:
        from signoff.services.mlflow_bridge import MlflowRunner

        # Its commits are the dispatcher's own work: the running drain or worker picks up the
        # events they write, so no after-commit dispatch (plain units of work).
        bridge = mlflow_bridge(ctx, plain=True)
        runners["mlflow"] = MlflowRunner(bridge)
        closers.append(bridge.rest.close)

    def close_runners() -> None:
        for close in closers:
            close()

    return Dispatcher(
        uow_factory=ctx.uow_without_dispatch, workflow=ctx.workflow, clock=ctx.clock, runners=runners,
        retry=RetryPolicy(s.events.max_attempts, s.events.backoff_base, s.events.backoff_cap),
        lease_seconds=s.events.lease_seconds, owner=owner, batch_size=s.events.batch_size,
        timeout_cap=s.events.inline_timeout if inline else None, on_close=close_runners,
    )


def _default_rules(settings: Settings) -> list[dict[str, Any]] | None:
    """The workflow's rules, plus the MLflow bridge's while `[mlflow]` is configured."""
    if settings.mlflow is None:
        return None
    from signoff.domain.rules import DEFAULT_RULES
    from signoff.services.mlflow_bridge import MLFLOW_RULES

    return DEFAULT_RULES + MLFLOW_RULES


def mlflow_bridge(ctx: Context, *, plain: bool = False) -> Bridge:
    """The MLflow bridge over `[mlflow]`; raises InvalidInput when it is not configured."""
    from signoff.adapters.mlflow_rest import MlflowRest
    from signoff.errors import InvalidInput
    from signoff.services.mlflow_bridge import Bridge

    conf = ctx.settings.mlflow
    if conf is None:
        raise InvalidInput("the MLflow bridge needs an [mlflow] section with tracking_uri in signoff.toml",
                           details={"key": "mlflow"})
    return Bridge(uow_factory=ctx.uow_without_dispatch if plain else ctx.uow, workflow=ctx.workflow, settings=conf,
                  rest=MlflowRest(conf.tracking_uri, timeout=conf.timeout))


def mail_composer(ctx: Context) -> Any:
    """Templated approval emails with review links signed by `server.secret_key`."""
    from signoff.adapters.links import ReviewLinks
    from signoff.adapters.mail_templates import MailTemplates
    from signoff.services.emails import MailComposer

    s = ctx.settings
    links = ReviewLinks(s.server.secret_key.get_secret_value(), s.server.public_url)
    return MailComposer(uow_factory=ctx.uow_without_dispatch, workflow=ctx.workflow, clock=ctx.clock, links=links,
                        public_url=s.server.public_url, sender=s.smtp.sender, templates=MailTemplates())


def _config_users(settings: Settings) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, spec in settings.users.items():
        entry: dict[str, Any] = {"groups": spec.groups, "email": spec.email, "admin": spec.admin}
        if spec.password is not None:
            entry["password"] = spec.password.get_secret_value()
        out[name] = entry
    return out
