"""The model list, readiness, and hot reload after a promotion, on a real MLflow store."""

import io
import time

import pytest
from PIL import Image

from tests.app.pictures import GREEN, picture
from tests.app.standin_models import BrokenCaptioner, SilentCaptioner, make_store, register_standin


def test_the_model_list_says_what_is_served(client):
    models = {m["name"]: m for m in client.get("/api/models").json["models"]}
    assert list(models) == ["captioner-lstm", "captioner-transformer"]
    lstm, transformer = models["captioner-lstm"], models["captioner-transformer"]
    assert lstm["id"] == "captioner-lstm" and lstm["default"] is True and transformer["default"] is False
    assert lstm["version"] == "1" and lstm["aliases"] == ["production"] and lstm["loaded"] is True
    assert lstm["test_bleu4"] == pytest.approx(0.11) and transformer["test_bleu4"] == pytest.approx(0.14)
    assert transformer["decoder"] == "transformer" and "mean colour" in transformer["description"]
    assert "stand-in" in transformer["architecture"] and lstm["error"] is None


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"status": "ready", "models": {"captioner-lstm": "1", "captioner-transformer": "1"}}


def test_a_missing_model_leaves_the_service_up_but_not_ready(make_app, tmp_path):
    store = make_store(tmp_path / "partial")
    register_standin(store.uri, "captioner-lstm", bleu4=None)
    client = make_app(store).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["error"]["code"] == "not_ready"
    assert "captioner-transformer" in ready.json["error"]["message"]
    answer = client.post("/api/convert", data={"image": (io.BytesIO(picture()), "a.png"),
                                               "model": "captioner-transformer"})
    assert answer.status_code == 503 and answer.json["error"]["code"] == "model_unavailable"
    models = {m["name"]: m for m in client.get("/api/models").json["models"]}
    assert models["captioner-lstm"]["test_bleu4"] is None  # the run logged no metric
    transformer = models["captioner-transformer"]
    assert transformer["loaded"] is False and "not found" in transformer["error"]


def test_a_promotion_is_served_after_an_on_demand_reload(make_app, store, convert_on, admin_headers):
    app = make_app(store)
    client = app.test_client()
    assert convert_on(client)["model"]["version"] == "1"
    old = app.extensions["models"].get("captioner-lstm")

    register_standin(store.uri, "captioner-lstm", promote=True, bleu4=0.3)
    assert convert_on(client)["model"]["version"] == "1"  # nothing changes until a check
    assert client.post("/api/models/reload").status_code == 401
    answer = client.post("/api/models/reload", headers=admin_headers)
    assert answer.status_code == 200
    assert answer.json["models"]["captioner-lstm"] == {"version": "2", "changed": True, "error": None}
    assert answer.json["models"]["captioner-transformer"]["changed"] is False

    assert convert_on(client)["model"]["version"] == "2"
    lstm = client.get("/api/models").json["models"][0]
    assert lstm["version"] == "2" and lstm["test_bleu4"] == pytest.approx(0.3)
    assert old.caption(picture_image()) == "a green image"  # a request that held the old one could finish


def test_the_watcher_notices_a_promotion_without_a_request(make_app, store):
    app = make_app(store, MODEL_POLL_SECONDS=0.2)
    registry = app.extensions["models"]
    try:
        register_standin(store.uri, "captioner-transformer", promote=True)
        deadline = time.monotonic() + 15
        while registry.get("captioner-transformer").version != "2" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert registry.get("captioner-transformer").version == "2"
    finally:
        registry.stop()


@pytest.mark.parametrize("bad", [BrokenCaptioner("lstm"), SilentCaptioner("lstm")], ids=["fails-to-load", "no-answer"])
def test_a_version_that_fails_to_load_leaves_the_old_one_serving(make_app, store, convert_on, admin_headers, bad):
    app = make_app(store)
    client = app.test_client()
    register_standin(store.uri, "captioner-lstm", promote=True, model=bad)
    outcome = client.post("/api/models/reload", headers=admin_headers).json["models"]["captioner-lstm"]
    assert outcome["version"] == "1" and outcome["changed"] is False and "version 2 failed to load" in outcome["error"]
    assert convert_on(client)["model"]["version"] == "1"
    assert client.get("/readyz").status_code == 200
    assert "version 2 failed" in client.get("/api/models").json["models"][0]["error"]

    register_standin(store.uri, "captioner-lstm", promote=True)  # a fixed version 3 replaces it
    client.post("/api/models/reload", headers=admin_headers)
    assert convert_on(client)["model"]["version"] == "3"
    assert client.get("/api/models").json["models"][0]["error"] is None


def picture_image() -> Image.Image:
    return Image.new("RGB", (8, 8), GREEN)


@pytest.fixture
def convert_on():
    def post(client, model="captioner-lstm"):
        form = {"image": (io.BytesIO(picture("PNG", GREEN)), "g.png"), "model": model}
        answer = client.post("/api/convert", data=form)
        assert answer.status_code == 200, answer.json
        return answer.json

    return post
