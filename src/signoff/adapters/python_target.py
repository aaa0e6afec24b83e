"""The `python` target: call `package.module:function(event)` in the worker, like a Lambda handler.

The handler gets a copy of the CloudEvent. Returning counts as success; raising is retried
with backoff, except ``signoff.errors.DeliveryFailed`` with ``details={"retry": False}``,
which dead-letters the delivery at once. Handlers run to completion (the worker keeps their
lease alive), so they should bound their own I/O.
"""

from __future__ import annotations

import copy
import importlib
import json
import threading
from collections.abc import Callable, Collection
from typing import Any

from signoff.domain.deliveries import Job, Outcome
from signoff.domain.rules import python_target_allowed
from signoff.errors import DeliveryFailed


def resolve(reference: str) -> Callable[[dict[str, Any]], Any]:
    """The function named by `package.module:function`; raises ImportError, AttributeError, TypeError."""
    module_name, _, attr = reference.partition(":")
    function: object = getattr(importlib.import_module(module_name), attr)
    if not callable(function):
        raise TypeError(f"{reference} is not callable")
    return function


def _jsonable(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return repr(value)[:500]


class PythonTargets:
    """Runs `python` targets whose module lies under one of `allowed` (checked again at every
    delivery: a rule saved under a wider list must not run after the list was narrowed)."""

    def __init__(self, allowed: Collection[str] = ()) -> None:
        self.allowed = tuple(allowed)
        self._cache: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self._lock = threading.Lock()

    def _function(self, reference: str) -> Callable[[dict[str, Any]], Any]:
        with self._lock:
            if reference not in self._cache:
                self._cache[reference] = resolve(reference)
            return self._cache[reference]

    def __call__(self, job: Job, timeout: float | None) -> Outcome:
        reference = job.target.function
        if not python_target_allowed(reference, self.allowed):
            return Outcome.final(f"{reference} is not under a module prefix listed in [events] python_targets "
                                 f"({', '.join(self.allowed) or 'empty'}); not called")
        try:
            function = self._function(reference)
        except (ImportError, AttributeError, TypeError) as exc:
            return Outcome.final(f"cannot load {reference}: {type(exc).__name__}: {exc}")
        try:
            returned = function(copy.deepcopy(job.event))
        except DeliveryFailed as exc:
            if exc.details.get("retry", True):
                return Outcome.retry(exc.message)
            return Outcome.final(exc.message)
        except Exception as exc:
            return Outcome.retry(f"{type(exc).__name__}: {exc}")
        return Outcome.ok(returned=_jsonable(returned)) if returned is not None else Outcome.ok()
