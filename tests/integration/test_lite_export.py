"""The exact float32 TFLite export evaluate logs in every model: its agreement with Keras on the run, the pyfunc's
``runtime: lite`` serving it, and falling back to Keras when its examples disagree or it is missing."""

import json
import shutil

import numpy as np
import pytest
from mlflow.pyfunc import PythonModelContext
from PIL import Image

from pipeline.models.lite import CONFIDENCE_TOLERANCE, EXAMPLES, FLATBUFFER, same
from pipeline.models.pyfunc import ARTIFACTS, CaptionerModel

FIGURES = {"lite_agreement", "lite_confidence_max_difference", "lite_convert_s", "lite_size_mb"}
PICTURES = [Image.new("RGB", (50, 40), (200, 30, 30)), Image.new("RGB", (64, 64), (20, 160, 40)),
            Image.new("L", (33, 90), 128)]


def test_evaluate_logs_the_exact_export_and_its_agreement(tiny_pipeline):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tiny_pipeline.path}/mlflow.db"
    client = MlflowClient(uri, uri)
    metrics = json.loads((tiny_pipeline.path / "reports/metrics.json").read_text())
    for kind in ("lstm", "transformer"):
        assert FIGURES <= set(metrics[kind])
        assert metrics[kind]["lite_agreement"] == 1.0  # every test picture described as Keras does
        assert metrics[kind]["lite_confidence_max_difference"] <= CONFIDENCE_TOLERANCE
        version = client.get_model_version_by_alias(f"captioner-{kind}", "production")
        logged = client.get_run(version.run_id).data.metrics
        assert {name: logged[name] for name in FIGURES} == {name: metrics[kind][name] for name in FIGURES}


def loaded(artifacts: dict, **config) -> CaptionerModel:
    model = CaptionerModel({"decoder": "lstm"})
    model.load_context(PythonModelContext({k: str(v) for k, v in artifacts.items()}, config))
    return model


@pytest.fixture(scope="module")
def exports(tiny_models) -> dict:
    """Each decoder's logged artifacts (Keras bundle, float32 TFLite export) from the session's tiny repro."""
    return {kind: {ARTIFACTS["float32"]: m.bundle, ARTIFACTS["lite"]: m.bundle.parent / ARTIFACTS["lite"]}
            for kind, m in tiny_models.items()}


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_runtime_lite_serves_the_export_and_describes_as_keras_does(exports, kind):
    lite, keras = loaded(exports[kind], runtime="lite"), loaded(exports[kind])
    assert (lite.runtime, lite.precision, lite.fallback_reason) == ("lite", "float32", None)
    assert type(lite.captioner).__name__ == "LiteCaptioner"
    assert (keras.runtime, type(keras.captioner).__name__) == ("keras", "Captioner")  # the default
    ours, theirs = lite.describe_images(PICTURES), keras.describe_images(PICTURES)
    assert all(same(a, b) for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_batched_pictures_are_described_as_single_ones_on_either_runtime(exports, kind):
    rng = np.random.default_rng(1)
    for runtime in ("lite", "keras"):
        model = loaded(exports[kind], runtime=runtime)
        size = model.captioner.image_size
        images = np.concatenate([np.stack([model.prepare(p) for p in PICTURES]),
                                 rng.integers(0, 256, (5, size, size, 3), dtype=np.uint8)])
        batched = model.describe_arrays(images)
        single = [model.describe_arrays(images[i:i + 1])[0] for i in range(len(images))]
        assert [d.caption for d in batched] == [d.caption for d in single]
        assert all(same(a, b) for a, b in zip(batched, single)), runtime


def test_an_export_whose_examples_disagree_falls_back_to_keras(exports, tmp_path, caplog):
    lstm = exports["lstm"]
    tampered = tmp_path / "examples"
    shutil.copytree(lstm[ARTIFACTS["lite"]], tampered)
    with np.load(tampered / EXAMPLES) as data:
        saved = dict(data)
    described = json.loads(str(saved["described"]))
    described[0]["caption"] += " and a hat"
    np.savez(tampered / EXAMPLES, **{**saved, "described": json.dumps(described)})
    model = loaded({**lstm, ARTIFACTS["lite"]: tampered}, runtime="lite")
    assert model.runtime == "keras" and "example 0" in model.fallback_reason
    assert "serving Keras rather than the TFLite export" in caplog.text

    swapped = tmp_path / "export"  # the transformer's flatbuffer where the LSTM's belongs
    shutil.copytree(lstm[ARTIFACTS["lite"]], swapped)
    shutil.copy(exports["transformer"][ARTIFACTS["lite"]] / FLATBUFFER, swapped / FLATBUFFER)
    model = loaded({**lstm, ARTIFACTS["lite"]: swapped}, runtime="lite")
    assert model.runtime == "keras" and "example" in model.fallback_reason
    assert model.describe_images(PICTURES) == loaded(lstm).describe_images(PICTURES)

    damaged = tmp_path / "damaged"  # a flatbuffer cut in half
    shutil.copytree(lstm[ARTIFACTS["lite"]], damaged)
    data = (damaged / FLATBUFFER).read_bytes()
    (damaged / FLATBUFFER).write_bytes(data[: len(data) // 2])
    model = loaded({**lstm, ARTIFACTS["lite"]: damaged}, runtime="lite")
    assert model.runtime == "keras" and "could not be read" in model.fallback_reason


def test_a_model_without_the_export_or_inexact_on_its_test_split_is_served_with_keras(exports, tmp_path):
    lstm = exports["lstm"]
    model = loaded({ARTIFACTS["float32"]: lstm[ARTIFACTS["float32"]]}, runtime="lite")
    assert model.runtime == "keras" and "without a float32 TFLite export" in model.fallback_reason

    inexact = tmp_path / "inexact"
    shutil.copytree(lstm[ARTIFACTS["lite"]], inexact)
    with np.load(inexact / EXAMPLES) as data:
        saved = dict(data)
    np.savez(inexact / EXAMPLES, **{**saved, "test_agreement": np.float64(0.99)})
    model = loaded({**lstm, ARTIFACTS["lite"]: inexact}, runtime="lite")
    assert model.runtime == "keras" and "1.00% of the test pictures" in model.fallback_reason
