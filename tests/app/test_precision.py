"""MODEL_PRECISION: float16 serves each production version's float16 export, and says so; or says why not."""

import io

import pytest
from PIL import Image

from testkit.pictures import GREEN, picture
from testkit.tiny_models import load_captioner


@pytest.fixture(scope="module")
def evaluated(tiny_pipeline) -> str:
    """The store of the session's tiny `dvc repro`, whose evaluate logged float16 exports (read it only)."""
    return f"sqlite:///{tiny_pipeline.path}/mlflow.db"


def test_float16_serves_the_float16_export(make_app, evaluated):
    app = make_app(evaluated, MODEL_PRECISION="float16")
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    models = {m["name"]: m for m in client.get("/api/models").json["models"]}
    assert {name: (m["precision"], m["error"]) for name, m in models.items()} == {
        "captioner-lstm": ("float16", None), "captioner-transformer": ("float16", None)}
    data = picture("PNG", GREEN)
    for name in models:
        served = app.extensions["models"].get(name).captioner
        assert served.precision == "float16" and type(served.captioner).__name__ == "LiteCaptioner"
        answer = client.post("/api/convert", data={"image": (io.BytesIO(data), "g.png"), "model": name})
        assert answer.status_code == 200, answer.json
        expected = load_captioner(evaluated, name, precision="float16")  # in this process, as the service should
        assert answer.json["caption"] == expected.caption_images([Image.open(io.BytesIO(data))])[0]


def test_a_version_without_a_float16_export_is_not_served_as_float32(make_app):
    client = make_app(MODEL_PRECISION="float16").test_client()  # the shared store: logged without float16
    assert client.get("/readyz").status_code == 503
    for model in client.get("/api/models").json["models"]:
        assert model["loaded"] is False and model["precision"] is None
        assert "no float16 export" in model["error"] and "evaluate.float16" in model["error"]


def test_float32_is_the_default(client):
    assert {m["precision"] for m in client.get("/api/models").json["models"]} == {"float32"}
