"""`run_batch`: the inference pipeline's side of the workflow in one call.

Resolve the version live in the environment, load it (the artifact's digest is verified
first), predict in batches, score against the target if there is one, profile the inputs for
drift, and report. The report is what opens the next environment's promotion request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from signoff.errors import InvalidInput

Progress = Callable[[int, int], None]  # (rows done, rows in total)


@dataclass
class BatchResult:
    model: str
    env: str
    version: int
    rows: int
    seconds: float
    metrics: dict[str, float]
    predictions: Any
    report: dict[str, Any] | None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def drifted_features(self) -> list[str]:
        return list((self.report or {}).get("drifted_features") or [])

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "env": self.env, "version": self.version, "rows": self.rows,
                "seconds": round(self.seconds, 4), "metrics": self.metrics, "report": self.report,
                "timings": {k: round(v, 4) for k, v in self.timings.items()}}


def _loader(live: Any) -> Any:
    if hasattr(live, "load"):
        return live
    from signoff.sdk._resolved import Resolved

    return Resolved.of(live)  # a transport whose resolve returns a plain mapping


def run_batch(
    client: Any,
    model: str,
    env: str,
    data: Any,
    *,
    target: str | None = None,
    batch_size: int = 100_000,
    output: str | Path | None = None,
    flavor: str | None = None,
    progress: Progress | None = None,
    report: bool = True,
    profile: bool = True,
) -> BatchResult:
    """Score `data` (a CSV/Parquet path or a DataFrame) with the version live in env and report it.

    Raises NotFound (nothing live), ArtifactMismatch (the artifact changed), InvalidInput, and
    ImportError naming the `inference` extra when pandas or numpy is missing here.
    """
    try:
        import numpy  # noqa: F401
        import pandas  # noqa: F401
    except ImportError as exc:
        from signoff._extras import missing_extra

        raise (missing_extra(exc, "batch inference", default="inference") or exc) from None
    from signoff.inference._data import read_table, write_table
    from signoff.inference._metrics import (
        classification_metrics,
        looks_like_classification,
        regression_metrics,
    )
    from signoff.inference._profile import profile_frame

    if batch_size < 1:
        raise InvalidInput("batch size must be at least 1", details={"field": "batch_size"})
    t: dict[str, float] = {}
    clock = time.perf_counter()
    started = datetime.now(UTC)
    live = client.resolve(model, env)
    t["resolve"] = time.perf_counter() - clock
    mark = time.perf_counter()
    loaded = _loader(live).load(flavor=flavor)
    t["load"] = time.perf_counter() - mark
    mark = time.perf_counter()
    frame = data if hasattr(data, "iloc") else read_table(data)
    if target is not None and target not in frame.columns:
        raise InvalidInput(f"target column {target!r} is not in the data", details={"target": target})
    features = frame.drop(columns=[target]) if target is not None else frame
    t["read"] = time.perf_counter() - mark

    mark = time.perf_counter()
    y = frame[target].to_numpy() if target is not None else None
    classify = None
    if y is not None:
        classify = loaded.is_classifier if loaded.is_classifier is not None else looks_like_classification(y)
    want_proba = bool(classify)
    predictions, probabilities = _predict(loaded, features, batch_size, want_proba, progress)
    t["predict"] = time.perf_counter() - mark

    mark = time.perf_counter()
    metrics: dict[str, float] = {}
    if y is not None:
        metrics = (classification_metrics(y, predictions, probabilities) if classify
                   else regression_metrics(y, predictions))
    t["metrics"] = time.perf_counter() - mark
    mark = time.perf_counter()
    inputs = profile_frame(features) if profile else None
    t["profile"] = time.perf_counter() - mark
    finished = datetime.now(UTC)

    sent = None
    if report:
        mark = time.perf_counter()
        sent = dict(client.report_inference(model, int(live["version"]), env, metrics=metrics, rows=len(frame),
                                            started_at=started, finished_at=finished, profile=inputs))
        t["report"] = time.perf_counter() - mark
    if output is not None:
        mark = time.perf_counter()
        scored = frame.copy()
        scored["prediction"] = predictions
        write_table(scored, output)
        t["output"] = time.perf_counter() - mark
    return BatchResult(model=model, env=env, version=int(live["version"]), rows=len(frame),
                       seconds=time.perf_counter() - clock, metrics=metrics, predictions=predictions,
                       report=sent, timings=t)


def _predict(loaded: Any, features: Any, batch_size: int, want_proba: bool,
             progress: Progress | None) -> tuple[Any, Any]:
    import numpy as np

    total = len(features)
    labels: list[Any] = []
    probs: list[Any] = []
    for start in range(0, total, batch_size):
        chunk = features.iloc[start:start + batch_size]
        pred, proba = loaded.run(chunk, want_proba)
        labels.append(np.asarray(pred))
        if proba is not None:
            probs.append(np.asarray(proba))
        if progress is not None:
            progress(min(start + batch_size, total), total)
    if not labels:
        return np.asarray([]), None
    predictions = labels[0] if len(labels) == 1 else np.concatenate(labels)
    probabilities = None
    if probs and len(probs) == len(labels):
        probabilities = probs[0] if len(probs) == 1 else np.concatenate(probs)
    return predictions, probabilities
