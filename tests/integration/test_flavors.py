"""Each flavor loads a real model, registered and resolved through signoff, and predicts as the original."""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from signoff.adapters import flavors
from signoff.bootstrap import Context
from signoff.errors import InvalidInput
from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import unique
from tests.fixtures.models import (
    FEATURES,
    classification_data,
    fit_classifier,
    fit_regressor,
    regression_data,
    save_joblib,
    save_onnx,
)


def live_model(ctx: Context, artifact: Path, flavor: str | None = None) -> tuple[dict[str, Any], Any]:
    dana, rita = EmbeddedClient(actor="dana", context=ctx), EmbeddedClient(actor="rita", context=ctx)
    name = unique("flavor")
    version = dana.register(name, str(artifact), flavor=flavor)
    rita.approve(name, 1, "dev")
    return version, dana.resolve(name, "dev").load()


def mlflow_available() -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import mlflow.sklearn  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            raise  # the extra is installed in CI: its absence is a failure, not a skip
        return False
    return True


class TestScikitLearn:
    def test_a_joblib_file_is_detected_and_predicts_like_the_original(self, ctx: Context, tmp_path: Path) -> None:
        original = fit_classifier()
        version, model = live_model(ctx, save_joblib(original, tmp_path / "clf.joblib"))
        data = classification_data(seed=5)[FEATURES]
        assert version["flavor"] == "sklearn" and model.is_classifier
        assert np.array_equal(model.predict(data), original.predict(data))
        assert np.allclose(model.predict_proba(data), original.predict_proba(data))

    def test_a_plain_pickle_without_a_known_suffix_is_recognised(self, ctx: Context, tmp_path: Path) -> None:
        original = fit_regressor()
        path = tmp_path / "regressor.bin"
        path.write_bytes(pickle.dumps(original))
        version, model = live_model(ctx, path)
        data = regression_data(seed=5)[FEATURES]
        assert version["flavor"] == "sklearn" and model.is_classifier is False
        assert np.allclose(model.predict(data), original.predict(data))

    def test_a_model_fitted_on_an_array_takes_a_frame_without_warnings(self, ctx: Context, tmp_path: Path) -> None:
        from sklearn.linear_model import LogisticRegression

        data = classification_data()
        original = LogisticRegression().fit(data[FEATURES].to_numpy(), data["label"].to_numpy())
        _, model = live_model(ctx, save_joblib(original, tmp_path / "arr.pkl"))
        assert np.array_equal(model.predict(data[FEATURES]), original.predict(data[FEATURES].to_numpy()))


class TestOnnx:
    def test_a_converted_classifier_gives_the_same_labels_and_probabilities(self, ctx: Context, tmp_path: Path) -> None:
        original = fit_classifier()
        version, model = live_model(ctx, save_onnx(original, tmp_path / "clf.onnx"))
        data = classification_data(seed=6)[FEATURES]
        assert version["flavor"] == "onnx" and model.is_classifier
        assert np.array_equal(model.predict(data), original.predict(data))
        assert np.allclose(model.predict_proba(data), original.predict_proba(data), atol=1e-5)

    def test_a_converted_regressor_gives_the_same_values(self, ctx: Context, tmp_path: Path) -> None:
        original = fit_regressor()
        _, model = live_model(ctx, save_onnx(original, tmp_path / "reg.onnx"))
        data = regression_data(seed=6)[FEATURES]
        assert model.is_classifier is False and model.predict_proba(data) is None
        assert np.allclose(model.predict(data), original.predict(data), atol=1e-4)

    def test_zipmap_probabilities_become_a_matrix(self, tmp_path: Path) -> None:
        from skl2onnx import to_onnx

        original = fit_classifier()
        path = tmp_path / "zipmap.onnx"
        path.write_bytes(to_onnx(original, np.zeros((1, 4), dtype=np.float32), target_opset=17).SerializeToString())
        data = classification_data(seed=7)[FEATURES]
        model = flavors.load(path)
        assert np.allclose(model.predict_proba(data), original.predict_proba(data), atol=1e-5)

    def test_the_flavor_can_be_given_when_the_name_says_nothing(self, ctx: Context, tmp_path: Path) -> None:
        original = fit_classifier()
        onnx_bytes = save_onnx(original, tmp_path / "x.onnx").read_bytes()
        (tmp_path / "model.bin").write_bytes(onnx_bytes)
        version, model = live_model(ctx, tmp_path / "model.bin", flavor="onnx")
        assert version["flavor"] == "onnx" and model.flavor == "onnx"


@pytest.mark.skipif(not mlflow_available(), reason="mlflow not installed (pip install 'signoff[mlflow]')")
class TestMlflowPyfunc:
    def test_a_model_directory_is_stored_whole_detected_and_loaded(self, ctx: Context, tmp_path: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import mlflow.sklearn

            original = fit_classifier()
            mlflow.sklearn.save_model(original, str(tmp_path / "mlflow-model"), serialization_format="pickle",
                                      pip_requirements=[])
        version, model = live_model(ctx, tmp_path / "mlflow-model")
        data = classification_data(seed=8)[FEATURES]
        assert version["flavor"] == "mlflow" and model.flavor == "mlflow"
        assert version["artifact_uri"].endswith("/mlflow-model")
        assert np.array_equal(model.predict(data), original.predict(data))
        assert np.allclose(model.predict_proba(data), original.predict_proba(data))


class TestDetection:
    def test_an_unknown_file_is_refused_with_a_hint(self, tmp_path: Path) -> None:
        (tmp_path / "weights.bin").write_bytes(b"GGUF....")
        with pytest.raises(InvalidInput, match="give --flavor"):
            flavors.detect(tmp_path / "weights.bin")

    def test_a_directory_without_mlmodel_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "d").mkdir()
        with pytest.raises(InvalidInput, match="no MLmodel"):
            flavors.detect(tmp_path / "d")

    def test_an_unknown_flavor_name_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(InvalidInput, match="unknown flavor"):
            flavors.load(tmp_path, "tensorflow")
