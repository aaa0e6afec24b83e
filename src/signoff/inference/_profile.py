"""Profiles of tables (see signoff.domain.drift): a version's training data, a batch's inputs."""

from __future__ import annotations

from typing import Any

# A batch is profiled on a seeded row sample, so the cost stays flat however large the batch:
# 10,000 rows pin its deciles down, and 500 values per feature keep a report's JSON small
# (about 5 kB a feature) while a two-sample KS test still sees a shift of a tenth of a standard
# deviation against the 1,000 reference values.
BATCH_ROWS = 10_000
BATCH_SAMPLE = 500
REFERENCE_ROWS = 200_000  # quantiles of more training rows than this do not move
REFERENCE_SAMPLE = 1_000


def profile_frame(frame: Any, *, seed: int = 0, max_rows: int | None = BATCH_ROWS,
                  sample_size: int = BATCH_SAMPLE) -> dict[str, Any]:
    """The JSON profile of a DataFrame (numeric and categorical columns)."""
    import numpy as np

    from signoff.domain.drift import profile_columns

    rows = len(frame)
    sample = frame
    if max_rows is not None and rows > max_rows:
        # Generator.choice draws k of n without a full permutation: cheap on millions of rows.
        picked = np.sort(np.random.default_rng(seed).choice(rows, size=max_rows, replace=False))
        sample = frame.iloc[picked]
    profile = profile_columns({str(c): sample[c].to_numpy() for c in sample.columns}, seed=seed,
                              sample_size=sample_size)
    profile["rows"] = rows
    profile["profiled_rows"] = len(sample)
    return profile


def reference_profile(reference: Any) -> dict[str, Any] | None:
    """A reference profile from training data: a DataFrame, an array, a CSV/Parquet path, or a profile."""
    if reference is None:
        return None
    if isinstance(reference, dict) and "features" in reference:
        return reference
    import pandas as pd

    if isinstance(reference, str) or hasattr(reference, "__fspath__"):
        from signoff.inference._data import read_table

        reference = read_table(reference)
    if not isinstance(reference, pd.DataFrame):
        reference = pd.DataFrame(reference)
    return profile_frame(reference, max_rows=REFERENCE_ROWS, sample_size=REFERENCE_SAMPLE)
