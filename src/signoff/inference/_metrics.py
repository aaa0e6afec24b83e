"""Metrics of a scored batch against its target column.

Classification: accuracy, precision, recall, f1 and (with probabilities) ROC AUC. With two
classes the greater label (1, True, "yes" over "no") is the positive one; with more, precision,
recall and f1 are support-weighted averages and ROC AUC is one-vs-rest. Regression: RMSE, MAE
and R². A metric that is undefined for the batch (ROC AUC with one class present) is left out
rather than reported as a made-up number.
"""

from __future__ import annotations

import math
import warnings
from typing import Any


def _clean(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 6) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}


def classification_metrics(y_true: Any, y_pred: Any, proba: Any = None) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics as m
    from sklearn.exceptions import UndefinedMetricWarning

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = sorted(set(np.unique(y_true).tolist()) | set(np.unique(y_pred).tolist()))
    binary = len(labels) == 2
    kw: dict[str, Any] = {"average": "binary", "pos_label": labels[-1]} if binary else {"average": "weighted"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        out: dict[str, float] = {
            "accuracy": m.accuracy_score(y_true, y_pred),
            "precision": m.precision_score(y_true, y_pred, zero_division=0, **kw),
            "recall": m.recall_score(y_true, y_pred, zero_division=0, **kw),
            "f1": m.f1_score(y_true, y_pred, zero_division=0, **kw),
        }
        if proba is not None and len(np.unique(y_true)) > 1:
            p = np.asarray(proba, dtype=float)
            try:
                if binary and p.ndim == 2:
                    out["roc_auc"] = m.roc_auc_score(y_true == labels[-1], p[:, -1])
                elif p.ndim == 2 and p.shape[1] == len(labels):
                    out["roc_auc"] = m.roc_auc_score(y_true, p, multi_class="ovr", labels=labels)
            except ValueError:
                pass  # undefined for this batch: left out
    return _clean(out)


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics as m
    from sklearn.exceptions import UndefinedMetricWarning

    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return _clean({
            "rmse": math.sqrt(m.mean_squared_error(y_true, y_pred)),
            "mae": m.mean_absolute_error(y_true, y_pred),
            "r2": m.r2_score(y_true, y_pred) if y_true.size > 1 else float("nan"),
        })


def looks_like_classification(y: Any) -> bool:
    """When the model does not say: labels that are not floats, or few integral float values."""
    import numpy as np

    arr = np.asarray(y)
    if arr.dtype.kind in "biuOUS":
        return True
    if arr.dtype.kind != "f":
        return False
    finite = arr[np.isfinite(arr)]
    return bool(finite.size) and bool(np.all(finite == np.round(finite))) and np.unique(finite).size <= 20
