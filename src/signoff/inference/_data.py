"""Reading and writing the tables a batch runs on: CSV or Parquet, local or any fsspec URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from signoff.errors import InvalidInput, NotFound


def _format(path: str) -> str:
    lowered = path.lower().removesuffix(".gz").removesuffix(".zst")
    if lowered.endswith((".parquet", ".pq")):
        return "parquet"
    if lowered.endswith((".csv", ".txt", ".tsv")):
        return "csv"
    raise InvalidInput(f"cannot tell the format of {path!r}: use .csv or .parquet", details={"path": path})


def read_table(source: str | Path) -> Any:
    """A pandas DataFrame from a CSV or Parquet file; raises InvalidInput, NotFound."""
    import pandas as pd

    path = str(source)
    kind = _format(path)
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, sep="\t" if path.lower().endswith(".tsv") else ",")
    except FileNotFoundError:
        raise NotFound(f"data file {path!r} not found", details={"path": path}) from None
    except (ValueError, OSError) as exc:
        raise InvalidInput(f"cannot read {path!r}: {exc}", details={"path": path}) from None


def write_table(frame: Any, target: str | Path) -> None:
    """Write a DataFrame as CSV or Parquet, chosen by the file name."""
    path = str(target)
    if _format(path) == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
