"""Real models for `signoff demo`: scikit-learn's breast-cancer data (shipped inside the package).

The split is fixed, so every version is scored on the same held-out rows. Version 2 is trained
on a "new extract" in which the ``worst *`` measurements arrived in another unit (x1.5): a
pipeline bug that a reviewer could miss, but that drift detection and the test gate catch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

TARGET = "benign"
UNIT_BUG = 1.5


@dataclass
class Trained:
    path: Path
    metrics: dict[str, float]
    training_data: Any  # the features it was fitted on: the version's drift reference


def split() -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_hold, y_train, y_hold = train_test_split(X, y, test_size=0.4, random_state=0, stratify=y)
    return X_train, X_hold, y_train, y_hold


def shifted_features(columns: Any) -> list[str]:
    return [c for c in columns if c.startswith("worst ")]


def train(workdir: Path, name: str, *, shifted: bool = False, regularisation: float = 1.0) -> Trained:
    """Fit a scaler + logistic regression and save it with joblib."""
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, _, y_train, _ = split()
    if shifted:
        X_train = X_train.copy()
        cols = shifted_features(X_train.columns)
        X_train[cols] = X_train[cols] * UNIT_BUG
    model = make_pipeline(StandardScaler(), LogisticRegression(C=regularisation, max_iter=1000))
    model.fit(X_train, y_train)
    pred = model.predict(X_train)
    metrics = {"accuracy": round(float(accuracy_score(y_train, pred)), 4),
               "f1": round(float(f1_score(y_train, pred)), 4)}
    path = workdir / f"{name}.joblib"
    joblib.dump(model, path)
    return Trained(path, metrics, X_train)


def write_holdout(workdir: Path) -> tuple[Path, int]:
    """The held-out rows with their true labels, as the Parquet file an inference job would read."""
    _, X_hold, _, y_hold = split()
    path = workdir / "holdout.parquet"
    X_hold.assign(**{TARGET: y_hold}).to_parquet(path, index=False)
    return path, len(X_hold)
