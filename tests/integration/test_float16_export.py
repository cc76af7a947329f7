"""evaluate with ``evaluate.float16`` on: the float16 export inside each logged model, its figures on the run."""

import json

from PIL import Image

from testkit.tiny_models import load_captioner

FIGURES = {"float16_agreement", "float16_size_mb", "float32_size_mb", "float16_convert_s"}


def test_evaluate_logs_the_float16_export_beside_the_model(tiny_pipeline):
    from mlflow import MlflowClient

    assert tiny_pipeline.params()["evaluate"]["float16"] is True  # TINY turns it on
    uri = f"sqlite:///{tiny_pipeline.path}/mlflow.db"
    client = MlflowClient(uri, uri)
    metrics = json.loads((tiny_pipeline.path / "reports/metrics.json").read_text())
    picture = Image.new("RGB", (50, 40), (200, 30, 30))
    for kind in ("lstm", "transformer"):
        assert FIGURES <= set(metrics[kind]) and 0 <= metrics[kind]["float16_agreement"] <= 1
        version = client.get_model_version_by_alias(f"captioner-{kind}", "production")
        logged = client.get_run(version.run_id).data.metrics
        assert {name: logged[name] for name in FIGURES} == {name: metrics[kind][name] for name in FIGURES}
        assert metrics[kind]["float16_size_mb"] < 0.75 * metrics[kind]["float32_size_mb"]

        float16 = load_captioner(uri, f"captioner-{kind}", precision="float16")
        assert float16.precision == "float16" and type(float16.captioner).__name__ == "LiteCaptioner"
        assert isinstance(float16.caption_images([picture])[0], str)
