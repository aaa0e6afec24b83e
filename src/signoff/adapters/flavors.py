"""Model flavors: how an artifact on disk becomes something with ``predict``.

Three are built in: scikit-learn (a joblib or pickle file), ONNX (run with onnxruntime) and
MLflow pyfunc model directories (needs the ``signoff[mlflow]`` extra). The flavor is detected
from the artifact (an ``MLmodel`` file, the ``.onnx`` suffix, otherwise a pickle) and can be
given explicitly. Each loaded model offers the same small surface, so the batch runner does not
care which one it has: ``predict(frame)``, ``predict_proba(frame)`` (None when the model cannot
say), ``run(frame, proba)`` for both from one pass where the framework computes them together,
and ``is_classifier`` (None when unknown; the runner then guesses from the target).

Frameworks are imported only when a model of theirs is loaded.
"""

from __future__ import annotations

import posixpath
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signoff.adapters.filesystems import filesystem
from signoff.errors import InvalidInput

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

FLAVORS = ("sklearn", "onnx", "mlflow")
_PICKLE_SUFFIXES = {".joblib", ".pkl", ".pickle", ".sav"}


def detect(path: str | Path) -> str:
    """The flavor of an artifact (local path or fsspec URL); raises InvalidInput when it cannot tell."""
    fs, p = filesystem(str(path))
    name = posixpath.basename(p.rstrip("/"))
    if fs.isdir(p):
        if fs.isfile(f"{p.rstrip('/')}/MLmodel"):
            return "mlflow"
        raise InvalidInput(
            f"cannot tell the flavor of directory {name!r}: no MLmodel file (give --flavor)",
            details={"artifact": str(path)},
        )
    suffix = posixpath.splitext(name)[1].lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix in _PICKLE_SUFFIXES:
        return "sklearn"
    with fs.open(p, "rb") as f:
        head = f.read(2)
    if head[:1] == b"\x80" or head in (b"\x1f\x8b", b"x\x9c", b"x\x01", b"x\xda"):
        return "sklearn"  # a pickle, or joblib's compressed container
    raise InvalidInput(
        f"cannot tell the flavor of {name!r} (known: {', '.join(FLAVORS)}); give --flavor",
        details={"artifact": str(path)},
    )


def check_flavor(flavor: str | None) -> str | None:
    if flavor is not None and flavor not in FLAVORS:
        raise InvalidInput(f"unknown flavor {flavor!r} (known: {', '.join(FLAVORS)})", details={"flavor": flavor})
    return flavor


def load(path: str | Path, flavor: str | None = None) -> Any:
    """Load a verified local artifact as a model with the common surface; raises InvalidInput."""
    chosen = check_flavor(flavor) or detect(path)
    loader = {"sklearn": SklearnModel, "onnx": OnnxModel, "mlflow": MlflowModel}[chosen]
    return loader(Path(path))


class SklearnModel:
    flavor = "sklearn"

    def __init__(self, path: Path) -> None:
        import joblib
        from sklearn.base import is_classifier

        self.model = joblib.load(path)
        if not hasattr(self.model, "predict"):
            raise InvalidInput(f"{path.name} holds a {type(self.model).__name__}, which has no predict()")
        self.is_classifier: bool | None = bool(is_classifier(self.model))
        self.feature_names: list[str] | None = (
            [str(c) for c in self.model.feature_names_in_] if hasattr(self.model, "feature_names_in_") else None
        )

    def _inputs(self, frame: Any) -> Any:
        # A model fitted on a bare array warns when it is handed column names; one fitted on a
        # frame wants exactly its columns, in order, whatever else the file holds.
        if self.feature_names is None:
            return frame.to_numpy()
        missing = [c for c in self.feature_names if c not in frame.columns]
        if missing:
            raise InvalidInput(f"the data lacks feature columns the model needs: {', '.join(missing[:5])}",
                               details={"missing": missing})
        return frame[self.feature_names]

    def predict(self, frame: Any) -> Any:
        return self.model.predict(self._inputs(frame))

    def predict_proba(self, frame: Any) -> Any:
        if not hasattr(self.model, "predict_proba"):
            return None
        return self.model.predict_proba(self._inputs(frame))

    def run(self, frame: Any, proba: bool) -> tuple[Any, Any]:
        return self.predict(frame), self.predict_proba(frame) if proba else None


class OnnxModel:
    flavor = "onnx"

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.inputs = self.session.get_inputs()
        self.outputs = [o.name for o in self.session.get_outputs()]
        kinds = [o.type for o in self.session.get_outputs()]
        # skl2onnx classifiers answer (label, probabilities); regressors one float tensor.
        self.is_classifier = len(self.outputs) >= 2 or (bool(kinds) and "float" not in kinds[0])
        self.feature_names = [i.name for i in self.inputs] if len(self.inputs) > 1 else None

    def _feed(self, frame: Any) -> dict[str, Any]:
        import numpy as np

        if len(self.inputs) == 1:
            spec = self.inputs[0]
            dtype: DTypeLike = np.float64 if "double" in spec.type else np.int64 if "int64" in spec.type else np.float32
            return {spec.name: frame.to_numpy(dtype=dtype)}
        feed = {}
        for spec in self.inputs:
            if spec.name not in frame.columns:
                raise InvalidInput(f"the data lacks column {spec.name!r} that the ONNX model takes")
            dtype = np.float32 if "float)" in spec.type else np.float64 if "double" in spec.type else \
                np.int64 if "int64" in spec.type else object
            feed[spec.name] = frame[spec.name].to_numpy(dtype=dtype).reshape(-1, 1)
        return feed

    def run(self, frame: Any, proba: bool) -> tuple[Any, Any]:
        """Labels (or values) and, for classifiers, probabilities: one run of the graph gives both."""
        import numpy as np

        result = self.session.run(self.outputs, self._feed(frame))
        out = np.asarray(result[0])
        labels = out.ravel() if out.ndim > 1 and out.shape[1] == 1 else out
        if not proba or len(result) < 2:
            return labels, None
        probs = result[1]
        if isinstance(probs, list):  # ZipMap: one {class: probability} dict per row
            keys = sorted(probs[0]) if probs else []
            return labels, np.array([[row[k] for k in keys] for row in probs], dtype=float)
        return labels, np.asarray(probs, dtype=float)

    def predict(self, frame: Any) -> Any:
        return self.run(frame, False)[0]

    def predict_proba(self, frame: Any) -> Any:
        return self.run(frame, True)[1]


class MlflowModel:
    flavor = "mlflow"

    def __init__(self, path: Path) -> None:
        try:
            with warnings.catch_warnings():
                # MLflow warns about its own type hints at import; those are not ours to fix.
                warnings.simplefilter("ignore")
                import mlflow.pyfunc
        except ImportError:
            raise InvalidInput("MLflow models need the mlflow extra: pip install 'signoff[mlflow]'") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model = mlflow.pyfunc.load_model(str(path))
        raw = self._raw()
        self.is_classifier: bool | None = None
        if raw is not None and hasattr(raw, "predict_proba") and hasattr(raw, "classes_"):
            self.is_classifier = True
        self.raw = raw if self.is_classifier else None
        self.feature_names: list[str] | None = None

    def _raw(self) -> Any:
        try:
            return self.model.get_raw_model()
        except Exception:  # noqa: BLE001 - a python_function model with no underlying object
            return None

    def predict(self, frame: Any) -> Any:
        import numpy as np

        result = self.model.predict(frame)
        return np.asarray(result).ravel() if getattr(result, "ndim", 1) > 1 else np.asarray(result)

    def predict_proba(self, frame: Any) -> Any:
        if self.raw is None:
            return None
        cols = getattr(self.raw, "feature_names_in_", None)
        return self.raw.predict_proba(frame[list(cols)] if cols is not None else frame.to_numpy())

    def run(self, frame: Any, proba: bool) -> tuple[Any, Any]:
        return self.predict(frame), self.predict_proba(frame) if proba else None
