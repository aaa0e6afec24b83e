"""Batch inference for pipelines written in Python: resolve, load, verify, predict, report.

    import signoff
    from signoff.inference import run_batch

    with signoff.Client() as client:  # SIGNOFF_URL + SIGNOFF_TOKEN, or database_url=..., actor=...
        result = run_batch(client, "churn", "dev", "scoring.parquet", target="churned")
    print(result.metrics, result.report.get("drifted_features"))

`signoff infer` is this function behind a command line. Needs `signoff[inference]` (numpy, pandas,
scikit-learn, ONNX Runtime) where it runs.
"""

from signoff.inference._data import read_table, write_table
from signoff.inference._metrics import classification_metrics, regression_metrics
from signoff.inference._profile import profile_frame
from signoff.inference._runner import BatchResult, run_batch

__all__ = [
    "BatchResult",
    "classification_metrics",
    "profile_frame",
    "read_table",
    "regression_metrics",
    "run_batch",
    "write_table",
]
