"""Profiles of tables (see signoff.domain.drift): a version's training data, a batch's inputs."""

from __future__ import annotations

from typing import Any

MAX_ROWS = 20_000  # a batch profile is computed on a seeded row sample: its cost stays flat
REFERENCE_MAX_ROWS = 200_000  # quantiles of more rows than this do not move


def profile_frame(frame: Any, *, seed: int = 0, max_rows: int | None = MAX_ROWS) -> dict[str, Any]:
    """The JSON profile of a DataFrame (numeric and categorical columns)."""
    from signoff.domain.drift import profile_columns

    rows = len(frame)
    sample = frame
    if max_rows is not None and rows > max_rows:
        sample = frame.sample(n=max_rows, random_state=seed)
    profile = profile_columns({str(c): sample[c].to_numpy() for c in sample.columns}, seed=seed)
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

    if isinstance(reference, (str,)) or hasattr(reference, "__fspath__"):
        from signoff.inference._data import read_table

        reference = read_table(reference)
    if not isinstance(reference, pd.DataFrame):
        reference = pd.DataFrame(reference)
    return profile_frame(reference, max_rows=REFERENCE_MAX_ROWS)
