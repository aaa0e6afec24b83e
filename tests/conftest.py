"""Shared fixtures: a fresh SQLite database per test, a fixed clock, and the real-server plugins."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from signoff.bootstrap import Context, bootstrap
from signoff.config import Settings
from signoff.services.ports import FixedClock

pytest_plugins = ["tests.fixtures.servers", "tests.fixtures.web"]

USERS = {
    "dana": {"groups": ["data-science", "ml-reviewers"]},
    "rita": {"groups": ["ml-reviewers"]},
    "ron": {"groups": ["ml-reviewers"]},
    "uma": {"groups": ["uat-approvers"]},
    "paula": {"groups": ["ml-leads"]},
    "pete": {"groups": ["risk-office"]},
    "olga": {"groups": ["ml-leads", "risk-office"]},
    "eve": {"groups": ["visitors"]},
    "erin": {"groups": ["emergency", "data-science"]},
}

ENVIRONMENTS = {
    "order": ["dev", "test", "uat", "prod"],
    "dev": {"approvers": ["ml-reviewers"]},
    "test": {"approvers": ["ml-reviewers"], "gates": ["accuracy >= 0.9"]},
    "uat": {"approvers": ["uat-approvers"]},
    "prod": {"approvers": ["ml-leads", "risk-office"], "quorum": "each-group"},
}


def unique(prefix: str = "m") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    data: dict[str, object] = {"home": tmp_path / ".signoff", "users": USERS, "environments": ENVIRONMENTS}
    data.update(overrides)
    db = str(data.pop("database_url", f"sqlite:///{tmp_path / 'signoff.db'}"))
    settings = Settings(**data)  # type: ignore[arg-type]
    # Assigned after construction so a developer's $SIGNOFF_DATABASE_URL never leaks into tests.
    settings.database_url = db
    return settings


@pytest.fixture
def clock() -> FixedClock:
    # A Wednesday noon: outside any weekend freeze window.
    return FixedClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))


def on_postgres() -> bool:
    """`SIGNOFF_TEST_DB=postgres` runs the database tests on a real PostgreSQL server."""
    return os.environ.get("SIGNOFF_TEST_DB", "sqlite") == "postgres"


@pytest.fixture(scope="session")
def postgres_template(request: pytest.FixtureRequest) -> str:
    """A database migrated once; each test copies it (CREATE DATABASE … TEMPLATE is ~10× faster)."""
    from signoff.adapters.db import migrate
    from signoff.adapters.db.engine import build_engine

    server = request.getfixturevalue("postgres_server")
    name = f"signoff_template_{uuid.uuid4().hex[:8]}"
    engine = build_engine(server.create_database(name))
    migrate.upgrade(engine)
    engine.dispose()
    return name


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if not on_postgres():
        yield f"sqlite:///{tmp_path / 'signoff.db'}"
        return
    import psycopg

    server = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("postgres_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')  # type: ignore[arg-type]
    yield server._url_for(name)
    server.drop_database(name)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
def ctx(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    context = bootstrap(settings, clock=clock, migrate_schema=True)
    yield context
    context.close()
