"""The composition root: settings → engine → unit of work → services' ports.

Every entrypoint (CLI, API, worker, embedded SDK) builds one ``Context`` here and passes it
down; nothing else creates engines or reads settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from signoff.adapters.db import migrate
from signoff.adapters.db.engine import build_engine, is_sqlite
from signoff.adapters.db.unit_of_work import SqlAlchemyUnitOfWork
from signoff.config import Settings, load_settings
from signoff.domain.workflow import Workflow, build_workflow
from signoff.services.accounts import sync_config_users
from signoff.adapters.db.live_reader import LiveReader
from signoff.services.ports import Clock, SystemClock


@dataclass
class Context:
    settings: Settings
    engine: Engine
    workflow: Workflow
    clock: Clock
    session_factory: sessionmaker[Session]
    reader: LiveReader
    extras: dict[str, Any] = field(default_factory=dict)

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.session_factory, self.clock)

    def close(self) -> None:
        self.reader.close()
        self.engine.dispose()


def workflow_from(settings: Settings) -> Workflow:
    envs = settings.environments
    policies = envs.policies()
    return build_workflow(list(envs.order), {k: v.model_dump(exclude_unset=True) for k, v in policies.items()})


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    migrate_schema: bool | None = None,
    sync_users: bool = True,
) -> Context:
    """Wire everything; on SQLite the schema is brought up to date automatically."""
    settings = settings or load_settings()
    workflow = workflow_from(settings)
    engine = build_engine(settings.resolved_database_url())
    if migrate_schema is None:
        migrate_schema = is_sqlite(engine)
    if migrate_schema:
        migrate.upgrade(engine)
    ctx = Context(
        settings=settings,
        engine=engine,
        workflow=workflow,
        clock=clock or SystemClock(),
        session_factory=sessionmaker(engine, expire_on_commit=False),
        reader=LiveReader(engine),
    )
    if sync_users and settings.users:
        sync_config_users(uow=ctx.uow(), users=_config_users(settings))
    return ctx


def _config_users(settings: Settings) -> dict[str, dict[str, Any]]:
    from signoff.adapters.passwords import hash_password

    out: dict[str, dict[str, Any]] = {}
    for name, spec in settings.users.items():
        entry: dict[str, Any] = {"groups": spec.groups, "email": spec.email, "admin": spec.admin}
        if spec.password is not None:
            entry["password_hash"] = hash_password(spec.password.get_secret_value())
        out[name] = entry
    return out
