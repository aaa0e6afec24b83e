"""Shared fixtures: a fresh database per test, a fixed clock, and the real-server plugins.

The database is SQLite by default and PostgreSQL with `SIGNOFF_TEST_DB=postgres`: then every
test that asks for one (the `ctx`/`settings` fixtures, `make_settings`, `database_url_for`, and
the fixtures that start `signoff` processes) gets a copy of a migrated template database on a
real server (tests/fixtures/servers/postgres.py). `make test` runs both passes. Tests marked
`sqlite_only` exercise SQLite itself (the demo's file, the writer gate) and are deselected on
PostgreSQL; where the behaviour matters there too, a test that runs on both covers it.
"""

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

pytest_plugins = ["tests.fixtures.servers", "tests.fixtures.web", "tests.fixtures.aws"]

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


# What a pipeline supplies for an artifact signoff cannot read (s3:// without s3fs here): the
# digest it computed of the bytes it uploaded. Approvals need one unless require_digest = false.
DIGEST = "sha256:" + "5e" * 32


def artifact_file(directory: Path | str, name: str) -> str:
    """A small real artifact with bytes of its own, which signoff can hash, store and check again."""
    path = Path(directory) / "artifacts-in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(f"model {name} {uuid.uuid4().hex}".encode())
    return str(path)


def unique(prefix: str = "m") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    data: dict[str, object] = {"home": tmp_path / ".signoff", "users": USERS, "environments": ENVIRONMENTS}
    data.update(overrides)
    db = str(data.pop("database_url", None) or database_url_for(tmp_path / "signoff.db"))
    settings = Settings(**data)  # type: ignore[arg-type]
    # Assigned after construction so a developer's $SIGNOFF_DATABASE_URL never leaks into tests.
    settings.database_url = db
    return settings


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL's pass, leave out what that pass cannot vary: tests/unit (pure, and
    `database_url_for` refuses them a database), tests marked `sqlite_only`, and tests that ask
    for `postgres_server` themselves (they ran on PostgreSQL in the default pass already)."""
    if not on_postgres():
        return
    unit = Path(__file__).parent / "unit"
    keep, dropped = [], []
    for item in items:
        same_on_both = (item.path.is_relative_to(unit) or item.get_closest_marker("sqlite_only")
                        or "postgres_server" in getattr(item, "fixturenames", ()))
        (dropped if same_on_both else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


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


# The running test's request: `database_url_for` creates PostgreSQL databases through it, so
# that plain helpers (make_settings, the process fixtures) need no fixture argument.
_current: list[pytest.FixtureRequest] = []


@pytest.fixture(autouse=True)
def _test_request(request: pytest.FixtureRequest) -> Iterator[None]:
    _current.append(request)
    yield
    _current.remove(request)


def database_url_for(sqlite_file: Path, request: pytest.FixtureRequest | None = None) -> str:
    """The database of a test that would keep it in `sqlite_file`: that file on SQLite; on
    PostgreSQL a fresh copy of the migrated template, one per path, dropped when `request`'s
    scope ends (by default the running test's). A class- or module-scoped fixture passes its own
    `request` so the database lives as long as the fixture does."""
    request = request or _current[-1]
    if request.node.path.is_relative_to(Path(__file__).parent / "unit"):
        raise AssertionError("tests/unit is pure (it runs once, on SQLite's pass): no database here")
    if not on_postgres():
        return f"sqlite:///{sqlite_file}"
    cache = request.node.stash.setdefault(_DATABASES, {})
    if sqlite_file not in cache:
        import psycopg

        server = request.getfixturevalue("postgres_server")
        template = request.getfixturevalue("postgres_template")
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')  # type: ignore[arg-type]
        request.addfinalizer(lambda: server.drop_database(name))
        cache[sqlite_file] = server.url_for(name)
    return cache[sqlite_file]


_DATABASES = pytest.StashKey[dict[Path, str]]()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return database_url_for(tmp_path / "signoff.db")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
def ctx(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    context = bootstrap(settings, clock=clock, migrate_schema=True)
    yield context
    context.close()
