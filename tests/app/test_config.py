"""Settings: defaults, then the instance folder's config.py, then environment variables, then a test's mapping."""

import pytest

from app import create_app
from app.config import DEFAULTS


def test_the_order_of_the_sources(tmp_path, monkeypatch, shared_store):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(f"HISTORY_PAGE_SIZE = 7\nPORT = 6000\nADMIN_TOKEN = '{'i' * 32}'\n")
    monkeypatch.setenv("IMAGE_TO_AUDIO_PORT", "7000")
    monkeypatch.setenv("IMAGE_TO_AUDIO_MODEL_POLL_SECONDS", "0")
    monkeypatch.setenv("IMAGE_TO_AUDIO_SPEECH_FMT", "wav")
    monkeypatch.setenv("ADMIN_TOKEN", "e" * 32)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", shared_store.uri)

    app = create_app(instance_path=instance)
    assert app.config["HISTORY_PAGE_SIZE"] == 7  # instance config over the default
    assert app.config["PORT"] == 7000  # the environment over the instance config, parsed as JSON
    assert app.config["ADMIN_TOKEN"] == "e" * 32 and app.config["MLFLOW_TRACKING_URI"] == shared_store.uri
    assert app.config["DEBUG"] is False and app.debug is False
    assert app.extensions["speaker"].settings.fmt == "wav"  # SPEECH_* keys reach the speaker
    assert app.extensions["models"].ready()

    assert create_app({"PORT": 8000, "MODEL_POLL_SECONDS": 0}, instance_path=instance).config["PORT"] == 8000


def test_the_defaults():
    assert DEFAULTS["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024 and DEFAULTS["PORT"] == 5000
    assert DEFAULTS["HOST"] == "127.0.0.1" and DEFAULTS["DEBUG"] is False and DEFAULTS["ADMIN_TOKEN"] is None
    assert DEFAULTS["MLFLOW_TRACKING_URI"].startswith("sqlite:////") and DEFAULTS["MLFLOW_TRACKING_URI"].endswith(
        "/mlflow.db")


@pytest.mark.parametrize(("setting", "message"), [
    ({"DEFAULT_MODEL": "captioner-gru"}, "DEFAULT_MODEL"),
    ({"MODEL_NAMES": "captioner-lstm"}, "MODEL_NAMES"),
    ({"TRAIN_COMMAND": "dvc exp run"}, "no shell"),
    ({"MAX_CONTENT_LENGTH": 0}, "MAX_CONTENT_LENGTH"),
    ({"MODEL_PRECISION": "bfloat16"}, "MODEL_PRECISION"),
    ({"MODEL_RUNTIME": "onnx"}, "MODEL_RUNTIME"),
    ({"BATCH_MAX_SIZE": 0}, "BATCH_MAX_SIZE"),
    ({"BATCH_WINDOW_MS": -1}, "BATCH_WINDOW_MS"),
    ({"BATCH_WINDOW_MS": "5"}, "BATCH_WINDOW_MS"),
    ({"BATCH_RUNTIMES": "keras"}, "BATCH_RUNTIMES"),
    ({"RATE_LIMIT_STORAGE_URL": "redis//localhost:6379"}, "RATE_LIMIT_STORAGE_URL must be a Redis URL such as"),
    ({"RATE_LIMIT_STORAGE_URL": "memcached://localhost:11211"}, "or memory:// to count in each worker's memory"),
    ({"RATE_LIMIT_STORAGE_URL": "redis://localhost:port/0"}, "not a valid Redis URL"),
    ({"RATE_LIMIT_STORAGE_URL": "redis://localhost:6379/zero"}, "a database number"),
    ({"TRAIN_BROKER_URL": "amqp://localhost"}, "TRAIN_BROKER_URL must be a Redis URL such as redis://HOST:6379/0"),
    ({"TRAIN_BROKER_URL": "redis://"}, "must name a host"),
    ({"TRAIN_LEASE_S": 0}, "TRAIN_LEASE_S must be a positive integer"),
])
def test_settings_it_cannot_run_with_fail_at_start(tmp_path, setting, message):
    with pytest.raises(ValueError, match=message):
        create_app({"MODEL_POLL_SECONDS": 0, **setting}, instance_path=tmp_path, start_models=False)
