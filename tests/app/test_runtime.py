"""MODEL_RUNTIME and dynamic batching as GET /api/models shows them: the float32 TFLite export served by default
(Keras where a version has none, saying why), and the batches concurrent conversions went through on either
runtime (BATCH_RUNTIMES)."""

import io
import threading

import pytest

from testkit.pictures import BLUE, GREEN, RED, YELLOW, picture
from testkit.tiny_models import make_store, register


def test_the_exact_export_is_served_by_default_unbatched(client, caption_of):
    models = {m["name"]: m for m in client.get("/api/models").json["models"]}
    for name, model in models.items():
        assert (model["runtime"], model["runtime_note"], model["precision"]) == ("lite", None, "float32")
        assert model["batching"] == {"enabled": False}  # BATCH_RUNTIMES: Keras only
        data = picture("PNG", BLUE)
        answer = client.post("/api/convert", data={"image": (io.BytesIO(data), "b.png"), "model": name})
        assert answer.status_code == 200 and answer.json["caption"] == caption_of(data, name)  # Keras' caption


def test_keras_is_served_when_asked_or_when_a_version_has_no_export(make_app, tmp_path, tiny_models):
    client = make_app(MODEL_RUNTIME="keras").test_client()
    assert {(m["runtime"], m["runtime_note"]) for m in client.get("/api/models").json["models"]} == {("keras", None)}

    store = make_store(tmp_path / "mlflow")
    register(store, "captioner-lstm", tiny_models["lstm"], with_lite=False)
    app = make_app(store, MODEL_NAMES=["captioner-lstm"], DEFAULT_MODEL="captioner-lstm")
    model = app.test_client().get("/api/models").json["models"][0]
    assert model["loaded"] is True and model["runtime"] == "keras"
    assert "without a float32 TFLite export" in model["runtime_note"]


@pytest.mark.parametrize("runtime", ["keras", "lite"])
def test_concurrent_conversions_are_counted_in_batches(make_app, caption_of, runtime):
    app = make_app(MODEL_NAMES=["captioner-lstm"], DEFAULT_MODEL="captioner-lstm", BATCH_WINDOW_MS=50,
                   MODEL_RUNTIME=runtime, BATCH_RUNTIMES=[runtime])
    model = app.test_client().get("/api/models").json["models"][0]
    before = model["batching"]
    assert model["runtime"] == runtime and before["enabled"] is True and before["max_size"] == 8
    assert before["window_ms"] == 50 and before["images"] >= 1  # the warm-up at least
    pictures = [picture("PNG", colour) for colour in [RED, GREEN, BLUE, YELLOW] * 2]
    expected = [caption_of(data, "captioner-lstm") for data in pictures]
    answers, threads = {}, []

    def convert(i: int) -> None:
        reply = app.test_client().post("/api/convert", data={"image": (io.BytesIO(pictures[i]), f"{i}.png")})
        answers[i] = (reply.status_code, reply.json.get("caption"), expected[i])

    for i in range(len(pictures)):
        threads.append(threading.Thread(target=convert, args=(i,)))
        threads[-1].start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(status == 200 and caption == expected for status, caption, expected in answers.values())
    after = app.test_client().get("/api/models").json["models"][0]["batching"]
    assert after["images"] - before["images"] == len(pictures)
    assert 1 <= after["batches"] - before["batches"] <= len(pictures)
    assert sum(int(size) * count for size, count in after["sizes"].items()) == after["images"]
    assert max(int(size) for size in after["sizes"]) <= 8


def test_batches_of_one_when_the_maximum_is_one(make_app):
    model = make_app(BATCH_MAX_SIZE=1, MODEL_RUNTIME="keras").test_client().get("/api/models").json["models"][0]
    assert model["batching"]["max_size"] == 1 and set(model["batching"]["sizes"]) == {"1"}
