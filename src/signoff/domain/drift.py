"""Data drift: does the data a version sees look like the data it was trained on?

A *profile* summarises a table column by column and is plain JSON, so it travels in a report
and is stored with a version:

- numeric columns keep summary statistics, the reference deciles (``edges``), the share of
  rows in each bin between them (``proportions``) and a seeded random ``sample`` of values;
- other columns keep the counts of their (top 50) categories.

Comparing a batch's profile with the version's reference profile gives, per feature, the
Population Stability Index (numeric: the batch sample binned on the reference deciles;
categorical: by category) and, for numeric features, a two-sample Kolmogorov-Smirnov p-value.
The KS test itself is passed in (``ks``) so this module stays free of scipy.

A feature drifts when its PSI reaches ``psi_threshold`` or its KS p-value falls below
``ks_pvalue / m`` for m numeric features compared (Bonferroni): a batch from the reference
distribution then raises a false KS alarm with probability at most ``ks_pvalue`` in total,
not per feature, which matters for models with dozens of inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

PROFILE_FORMAT = 1
BINS = 10
SAMPLE_SIZE = 1000
MAX_CATEGORIES = 50
OTHER = "__other__"
MIN_ROWS = 50  # below this a batch says little about a distribution; drift is not assessed
_EPS = 1e-4  # floor on bin shares, so an empty bin costs a finite PSI

KsTest = Callable[[Sequence[float], Sequence[float]], float]


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def _numeric(values: np.ndarray, *, rng: np.random.Generator, sample_size: int, bins: int) -> dict[str, Any]:
    data = values.astype(float, copy=False)
    finite = data[np.isfinite(data)]
    out: dict[str, Any] = {"kind": "numeric", "count": int(data.size), "missing": int(data.size - finite.size)}
    if finite.size == 0:
        return {**out, "edges": [], "proportions": [], "sample": []}
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, finite, side="right"), minlength=edges.size + 1)
    pick = finite if finite.size <= sample_size else finite[rng.choice(finite.size, sample_size, replace=False)]
    return {
        **out,
        "mean": _round(float(finite.mean())),
        "std": _round(float(finite.std())),
        "min": _round(float(finite.min())),
        "max": _round(float(finite.max())),
        "edges": [_round(e) for e in edges.tolist()],
        "proportions": [round(c / finite.size, 6) for c in counts.tolist()],
        "sample": [_round(v) for v in pick.tolist()],
    }


def _categorical(values: Sequence[Any]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    missing = 0
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            missing += 1
            continue
        key = str(v)
        counts[key] = counts.get(key, 0) + 1
    top = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CATEGORIES])
    rest = sum(counts.values()) - sum(top.values())
    if rest:
        top[OTHER] = rest
    return {"kind": "categorical", "count": len(values), "missing": missing, "counts": top}


def profile_columns(
    columns: Mapping[str, Any], *, sample_size: int = SAMPLE_SIZE, bins: int = BINS, seed: int = 0
) -> dict[str, Any]:
    """Profile named columns (numpy arrays or sequences); the same seed gives the same sample."""
    rng = np.random.default_rng(seed)
    features: dict[str, Any] = {}
    rows = 0
    for name, raw in columns.items():
        arr = np.asarray(raw)
        rows = max(rows, int(arr.shape[0]))
        if arr.dtype.kind in "iuf":
            features[str(name)] = _numeric(arr, rng=rng, sample_size=sample_size, bins=bins)
        else:
            features[str(name)] = _categorical(arr.tolist())
    return {"format": PROFILE_FORMAT, "rows": rows, "features": features}


def psi(expected: ArrayLike, actual: ArrayLike) -> float:
    """Population Stability Index between two distributions over the same bins."""
    e = np.clip(np.asarray(expected, dtype=float), _EPS, None)
    a = np.clip(np.asarray(actual, dtype=float), _EPS, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def numeric_psi(reference: Mapping[str, Any], current: Mapping[str, Any]) -> float | None:
    """The batch sample binned on the reference deciles, against the reference's own shares."""
    edges = np.asarray(reference.get("edges") or [], dtype=float)
    sample = np.asarray(current.get("sample") or [], dtype=float)
    expected = reference.get("proportions") or []
    if sample.size == 0 or len(expected) != edges.size + 1:
        return None
    counts = np.bincount(np.searchsorted(edges, sample, side="right"), minlength=edges.size + 1)
    return psi(expected, counts / sample.size)


def categorical_psi(reference: Mapping[str, Any], current: Mapping[str, Any]) -> float | None:
    ref, cur = reference.get("counts") or {}, current.get("counts") or {}
    if not ref or not cur:
        return None
    keys = sorted(set(ref) | set(cur))
    ref_total, cur_total = sum(ref.values()), sum(cur.values())
    return psi([ref.get(k, 0) / ref_total for k in keys], [cur.get(k, 0) / cur_total for k in keys])


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    kind: str
    psi: float | None
    ks_pvalue: float | None
    drifted: bool
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "psi": None if self.psi is None else round(self.psi, 6),
            "ks_pvalue": self.ks_pvalue,
            "drifted": self.drifted,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class DriftAssessment:
    features: dict[str, FeatureDrift]
    psi_threshold: float
    ks_pvalue: float
    ks_threshold: float  # per feature, after the Bonferroni correction
    missing_features: list[str] = field(default_factory=list)
    skipped: str | None = None  # why drift was not assessed at all

    @property
    def drifted(self) -> list[str]:
        return [name for name, f in self.features.items() if f.drifted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "features": {name: f.to_dict() for name, f in self.features.items()},
            "psi_threshold": self.psi_threshold,
            "ks_pvalue": self.ks_pvalue,
            "ks_threshold_per_feature": self.ks_threshold,
            "missing_features": self.missing_features,
            "skipped": self.skipped,
        }


def assess(
    reference: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    psi_threshold: float,
    ks_pvalue: float,
    ks: KsTest | None = None,
) -> DriftAssessment:
    """Compare a batch profile with the reference profile, feature by feature."""
    ref_features: Mapping[str, Any] = reference.get("features") or {}
    cur_features: Mapping[str, Any] = current.get("features") or {}
    shared = [name for name in ref_features if name in cur_features]
    missing = [name for name in ref_features if name not in cur_features]
    numeric = [n for n in shared if ref_features[n]["kind"] == "numeric" == cur_features[n]["kind"]]
    ks_threshold = ks_pvalue / max(1, len(numeric))
    rows = int(current.get("rows") or 0)
    if rows < MIN_ROWS:
        return DriftAssessment({}, psi_threshold, ks_pvalue, ks_threshold, missing,
                               skipped=f"{rows} rows; drift needs at least {MIN_ROWS}")
    out: dict[str, FeatureDrift] = {}
    for name in shared:
        ref, cur = ref_features[name], cur_features[name]
        if ref["kind"] != cur["kind"]:
            out[name] = FeatureDrift(name, cur["kind"], None, None, True,
                                     (f"was {ref['kind']} in the reference, is {cur['kind']} now",))
            continue
        reasons: list[str] = []
        p_value = None
        if ref["kind"] == "numeric":
            score = numeric_psi(ref, cur)
            if ks is not None and ref.get("sample") and cur.get("sample"):
                p_value = float(ks(ref["sample"], cur["sample"]))
                if p_value < ks_threshold:
                    reasons.append(f"KS p-value {p_value:.3g} < {ks_threshold:.3g}")
        else:
            score = categorical_psi(ref, cur)
        if score is not None and score >= psi_threshold:
            reasons.insert(0, f"PSI {score:.3f} >= {psi_threshold:g}")
        out[name] = FeatureDrift(name, ref["kind"], score, p_value, bool(reasons), tuple(reasons))
    return DriftAssessment(out, psi_threshold, ks_pvalue, ks_threshold, missing)
