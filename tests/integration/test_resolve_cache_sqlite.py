"""On a SQLite file, resolve is answered from the process's memory while nothing was committed
(`PRAGMA data_version`), and any commit — by this process or another — is seen by the next read."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from signoff.adapters.db.live_sqlite import DataVersionLiveReader
from signoff.bootstrap import Context, bootstrap
from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import DIGEST, make_settings

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[tuple[Context, Context]]:
    """Two contexts on one file, each with its own engine: as two processes would be."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = bootstrap(make_settings(tmp_path, database_url=url))
    second = bootstrap(make_settings(tmp_path, database_url=url))
    yield first, second
    first.close()
    second.close()


def live_in_dev(ctx: Context, model: str, version: int) -> None:
    EmbeddedClient(actor="dana", context=ctx).register(model, f"s3://b/{version}", digest=DIGEST)
    EmbeddedClient(actor="rita", context=ctx).approve(model, version, "dev")


class TestTheSqliteResolveCache:
    def test_repeated_resolves_read_the_table_once(self, two_processes: tuple[Context, Context]) -> None:
        first, _ = two_processes
        assert isinstance(first.reader, DataVersionLiveReader)
        live_in_dev(first, "churn", 1)
        reads = first.reader.reads
        assert [first.reader.get("churn", "dev").version for _ in range(5)] == [1] * 5  # type: ignore[union-attr]
        assert first.reader.reads == reads + 1

    def test_a_commit_by_another_process_is_seen_at_once(self, two_processes: tuple[Context, Context]) -> None:
        first, second = two_processes
        live_in_dev(first, "churn", 1)
        assert first.reader.get("churn", "dev").version == 1  # type: ignore[union-attr]
        live_in_dev(second, "churn", 2)  # the other "process" moves the pointer
        assert first.reader.get("churn", "dev").version == 2  # type: ignore[union-attr]

    def test_a_write_outside_signoff_is_seen_too(self, two_processes: tuple[Context, Context],
                                                 tmp_path: Path) -> None:
        first, _ = two_processes
        live_in_dev(first, "churn", 1)
        assert first.reader.get("churn", "dev").artifact_uri == "s3://b/1"  # type: ignore[union-attr]
        with sqlite3.connect(tmp_path / "shared.db") as raw:
            raw.execute("UPDATE live_versions SET artifact_uri = 's3://elsewhere' WHERE model_name = 'churn'")
        assert first.reader.get("churn", "dev").artifact_uri == "s3://elsewhere"  # type: ignore[union-attr]

    def test_nothing_live_is_cached_and_then_replaced(self, two_processes: tuple[Context, Context]) -> None:
        first, second = two_processes
        EmbeddedClient(actor="dana", context=second).register("churn", "s3://b/1", digest=DIGEST)
        assert first.reader.get("churn", "dev") is None
        EmbeddedClient(actor="rita", context=second).approve("churn", 1, "dev")
        assert first.reader.get("churn", "dev").version == 1  # type: ignore[union-attr]

    def test_a_zero_cache_time_turns_it_off(self, tmp_path: Path) -> None:
        ctx = bootstrap(make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'off.db'}",
                                      server={"resolve_cache_seconds": 0}))
        try:
            assert type(ctx.reader).__name__ == "LiveReader"
        finally:
            ctx.close()
