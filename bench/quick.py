"""`SIGNOFF_BENCH_QUICK=1`: a short run of the benchmarks (`make bench QUICK=1`) to check that every
suite runs and every figure lands in the JSON — a few minutes instead of the best part of an hour
on a shared machine. wrk loads last 2 s instead of 5, fewer rows are seeded, fewer samples taken,
and the JSON says so (`machine.quick`). Its figures are for checking the plumbing, not for quoting:
ratios between servers still hold roughly, absolute figures are noisier.
"""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

QUICK = os.environ.get("SIGNOFF_BENCH_QUICK", "").strip().lower() not in {"", "0", "false", "no"}


def pick(full: T, quick: T) -> T:
    """`full` in a real run, `quick` under SIGNOFF_BENCH_QUICK."""
    return quick if QUICK else full


WRK_SECONDS = pick(5, 2)  # each wrk load (resolve, register, search; signoff, MLflow and the HTTP limit)
