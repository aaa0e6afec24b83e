"""Shared fixtures: a fresh SQLite database per test, a fixed clock, and the real-server plugins."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from signoff.bootstrap import Context, bootstrap
from signoff.config import Settings
from signoff.services.ports import FixedClock

pytest_plugins = ["tests.fixtures.servers"]

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
    settings = Settings(**data)  # type: ignore[arg-type]
    if "database_url" not in overrides:
        settings.database_url = f"sqlite:///{tmp_path / 'signoff.db'}"
    return settings


@pytest.fixture
def clock() -> FixedClock:
    # A Wednesday noon: outside any weekend freeze window.
    return FixedClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def ctx(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    context = bootstrap(settings, clock=clock)
    yield context
    context.close()
