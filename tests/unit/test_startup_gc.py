"""startup.py: the collector is off while a process starts and back on, with the start-up heap
frozen, once it is ready; a process that never paused it is left alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from signoff.entrypoints import startup


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.enable()
    startup._paused = False


def test_off_while_starting_then_frozen_and_back_on_when_ready() -> None:
    startup.starting()
    assert not gc.isenabled()
    startup.starting()  # a uvicorn worker's factory calls it again: still one pause
    kept = [object() for _ in range(100)]
    startup.ready()
    assert gc.isenabled() and gc.get_freeze_count() >= len(kept)
    startup.ready()  # twice is harmless
    assert gc.isenabled()


def test_a_collector_someone_else_turned_off_stays_as_they_left_it() -> None:
    gc.disable()
    startup.starting()
    startup.ready()
    assert not gc.isenabled() and gc.get_freeze_count() == 0


def test_ready_without_starting_changes_nothing() -> None:
    startup.ready()
    assert gc.isenabled() and gc.get_freeze_count() == 0
