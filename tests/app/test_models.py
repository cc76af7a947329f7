"""The model list, readiness, and hot reload after a promotion, on a real MLflow store with real tiny captioners."""

import io
import time

import pytest
from PIL import Image

from pipeline.models.pyfunc import DESCRIPTIONS
from testkit.pictures import GREEN, picture
from testkit.tiny_models import SilentCaptioner, damaged, make_store, register


def test_the_model_list_says_what_is_served(client, tiny_models):
    models = {m["name"]: m for m in client.get("/api/models").json["models"]}
    assert list(models) == ["captioner-lstm", "captioner-transformer"]
    lstm, transformer = models["captioner-lstm"], models["captioner-transformer"]
    assert lstm["id"] == "captioner-lstm" and lstm["default"] is True and transformer["default"] is False
    assert lstm["version"] == "1" and lstm["aliases"] == ["production"] and lstm["loaded"] is True
    assert lstm["test_bleu4"] == pytest.approx(0.11) and transformer["test_bleu4"] == pytest.approx(0.14)
    for kind, model in (("lstm", lstm), ("transformer", transformer)):  # the info evaluate logs with the model
        assert model["decoder"] == kind and model["description"] == DESCRIPTIONS[kind]
        assert model["architecture"] == tiny_models[kind].info["architecture"]
        assert model["architecture"].endswith(f"grid + {kind} decoder")
        assert model["error"] is None


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"status": "ready", "models": {"captioner-lstm": "1", "captioner-transformer": "1"}}


def test_a_missing_model_leaves_the_service_up_but_not_ready(make_app, tmp_path, tiny_models):
    store = make_store(tmp_path / "partial")
    register(store, "captioner-lstm", tiny_models["lstm"], test_bleu4=None)
    client = make_app(store).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["error"]["code"] == "not_ready"
    assert "captioner-transformer" in ready.json["error"]["message"]
    answer = client.post("/api/convert", data={"image": (io.BytesIO(picture()), "a.png"),
                                               "model": "captioner-transformer"})
    assert answer.status_code == 503 and answer.json["error"]["code"] == "model_unavailable"
    assert "captioner-transformer" in answer.json["error"]["message"]
    models = {m["name"]: m for m in client.get("/api/models").json["models"]}
    assert models["captioner-lstm"]["test_bleu4"] is None  # the run logged no metric
    transformer = models["captioner-transformer"]
    assert transformer["loaded"] is False
    assert transformer["error"] == "captioner-transformer@production is not in the model store"


def test_a_promotion_is_served_after_an_on_demand_reload(make_app, store, convert_on, admin_headers, tiny_models):
    app = make_app(store)
    client = app.test_client()
    first = convert_on(client)
    assert first["model"]["version"] == "1"
    old = app.extensions["models"].get("captioner-lstm")

    register(store, "captioner-lstm", tiny_models["lstm"], test_bleu4=0.3)
    assert convert_on(client)["model"]["version"] == "1"  # nothing changes until a check
    assert client.post("/api/models/reload").status_code == 401
    answer = client.post("/api/models/reload", headers=admin_headers)
    assert answer.status_code == 200
    assert answer.json["models"]["captioner-lstm"] == {"version": "2", "changed": True, "error": None}
    assert answer.json["models"]["captioner-transformer"]["changed"] is False

    second = convert_on(client)
    assert second["model"]["version"] == "2" and second["caption"] == first["caption"]  # the same bundle, re-logged
    new = app.extensions["models"].get("captioner-lstm")
    assert new.version == "2" and new.captioner is not old.captioner  # loaded anew, beside the old one
    lstm = client.get("/api/models").json["models"][0]
    assert lstm["version"] == "2" and lstm["test_bleu4"] == pytest.approx(0.3)
    assert old.caption(picture_image()) == first["caption"]  # a request that held the old one could finish


def test_the_watcher_notices_a_promotion_without_a_request(make_app, store, tiny_models):
    app = make_app(store, MODEL_POLL_SECONDS=0.2)
    registry = app.extensions["models"]
    try:
        register(store, "captioner-transformer", tiny_models["transformer"])
        deadline = time.monotonic() + 15
        while registry.get("captioner-transformer").version != "2" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert registry.get("captioner-transformer").version == "2"
    finally:
        registry.stop()


@pytest.mark.parametrize(("bad", "why"), [("damaged", "decoder.keras"), ("silent", "returned []")],
                         ids=["damaged-file", "no-answer"])
def test_a_version_that_fails_to_load_leaves_the_old_one_serving(make_app, store, convert_on, admin_headers,
                                                                 tiny_models, tmp_path, caplog, bad, why):
    app = make_app(store)
    client = app.test_client()
    lstm = tiny_models["lstm"]
    if bad == "damaged":  # a decoder file cut in half: Keras cannot read it
        register(store, "captioner-lstm", damaged(lstm, tmp_path))
    else:  # a captioner that answers nothing: the warm-up caption catches it
        register(store, "captioner-lstm", lstm, python_model=SilentCaptioner)
    outcome = client.post("/api/models/reload", headers=admin_headers).json["models"]["captioner-lstm"]
    assert outcome["version"] == "1" and outcome["changed"] is False and "version 2 failed to load" in outcome["error"]
    assert why not in outcome["error"] and "the service's log says why" in outcome["error"]  # no internal paths
    assert why in caplog.text  # the whole story is in the log
    assert convert_on(client)["model"]["version"] == "1"
    assert client.get("/readyz").status_code == 200
    assert "version 2 failed" in client.get("/api/models").json["models"][0]["error"]

    register(store, "captioner-lstm", lstm)  # a fixed version 3 replaces it
    client.post("/api/models/reload", headers=admin_headers)
    assert convert_on(client)["model"]["version"] == "3"
    assert client.get("/api/models").json["models"][0]["error"] is None


def picture_image() -> Image.Image:
    """The picture ``convert_on`` sends, decoded."""
    return Image.open(io.BytesIO(picture("PNG", GREEN))).convert("RGB")


@pytest.fixture
def convert_on():
    def post(client, model="captioner-lstm"):
        form = {"image": (io.BytesIO(picture("PNG", GREEN)), "g.png"), "model": model}
        answer = client.post("/api/convert", data=form)
        assert answer.status_code == 200, answer.json
        return answer.json

    return post


def _gated(store, name, model, score):
    """A production version whose run holds what the promotion gate logs: the metric compared and the score."""
    from mlflow import MlflowClient

    version = register(store, name, model)
    client = MlflowClient(store.uri, store.uri)
    run_id = client.get_model_version(name, version).run_id
    client.set_tag(run_id, "gate.metric", "test_content")
    client.log_metric(run_id, "gate_score", score)


def test_the_default_model_is_the_production_model_with_the_best_gate_score(make_app, tmp_path, tiny_models):
    store = make_store(tmp_path / "gated")
    _gated(store, "captioner-lstm", tiny_models["lstm"], 0.70)
    _gated(store, "captioner-transformer", tiny_models["transformer"], 0.975)
    client = make_app(store).test_client()
    models = {m["name"]: m for m in client.get("/api/models").json["models"]}
    assert models["captioner-transformer"]["default"] and not models["captioner-lstm"]["default"]
    assert models["captioner-transformer"]["default_reason"] == "the best test_content of the production models (0.975)"
    answer = client.post("/api/convert", data={"image": (io.BytesIO(picture("PNG", GREEN)), "g.png")})
    assert answer.status_code == 200 and answer.json["model"]["name"] == "captioner-transformer"
    chosen = make_app(store, DEFAULT_MODEL="captioner-lstm", instance=tmp_path / "chosen").test_client()
    assert [m["name"] for m in chosen.get("/api/models").json["models"] if m["default"]] == ["captioner-lstm"]
