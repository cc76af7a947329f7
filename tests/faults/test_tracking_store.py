"""The model registry failing under a running service (real gunicorn, real MLflow stores, real tiny captioners).

tests/app/test_models.py covers, through Flask's client, a missing alias and a version that fails to load on
``POST /api/models/reload``. Here: the tracking server down when gunicorn starts, then coming up; and a broken
version promoted while the service runs, found by the watcher alone, logged, and never served.
"""

import sqlite3
import time
from pathlib import Path

import requests

from testkit.gunicorn import free_port
from testkit.pictures import GREEN, picture
from testkit.tiny_models import damaged, make_store, register
from tests.faults.processes import Gunicorn, MlflowServer

NOT_LOADED = {"captioner-lstm": None, "captioner-transformer": None}


def convert(url: str, data: bytes, **fields: str) -> requests.Response:
    return requests.post(f"{url}/api/convert", files={"image": ("p.png", data)}, data=fields, timeout=60)


def copy_store(uri: str, into: Path) -> str:
    """A consistent copy of a sqlite store's database (its artifacts stay where the runs put them)."""
    source = sqlite3.connect(uri.removeprefix("sqlite:///"))
    target = sqlite3.connect(into)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return f"sqlite:///{into}"


def test_the_service_starts_without_its_tracking_server_and_recovers_when_it_comes(shared_store, caption_of,
                                                                                   tmp_path):
    """Store down at start: up at once, not ready, 503 in JSON; the server comes up: ready and converting."""
    backend = copy_store(shared_store.uri, tmp_path / "mlflow.db")
    port = free_port()  # where the tracking server will listen, once it runs
    tracking_uri = f"http://127.0.0.1:{port}"
    data = picture("PNG", GREEN)
    with Gunicorn(tracking_uri, tmp_path / "instance", workers=1, MODEL_POLL_SECONDS=1) as service:
        service.wait_for("/healthz", timeout=90)  # MLflow's own retries would hold the worker for minutes

        ready = requests.get(service.url + "/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"
        message = ready.json()["error"]["message"]
        for name in NOT_LOADED:
            assert f"{name}@production: the model store is unreachable" in message
        assert tracking_uri not in message and str(port) not in message  # where the store is stays in the log
        answer = convert(service.url, data)
        assert answer.status_code == 503 and answer.headers["Content-Type"] == "application/json"
        assert answer.json() == {"success": False, "error": {
            "code": "model_unavailable", "message": "model captioner-lstm is not loaded yet; see GET /readyz"}}
        models = requests.get(service.url + "/api/models", timeout=10).json()["models"]
        assert {m["name"]: m["version"] for m in models} == NOT_LOADED
        assert all("unreachable" in m["error"] for m in models)

        with MlflowServer(backend, port, tmp_path / "mlflow-server.log") as server:
            server.wait_for("/health", timeout=90)
            ready = service.wait_for("/readyz", timeout=60)  # the watcher's next check loads both
            assert ready.json() == {"status": "ready", "models": {"captioner-lstm": "1", "captioner-transformer": "1"}}
            for model in NOT_LOADED:
                answer = convert(service.url, data, model=model)
                assert answer.status_code == 200, answer.text
                body = answer.json()
                assert body["model"] == {"name": model, "version": "1"}
                assert body["caption"] == caption_of(data, model)
                assert requests.get(service.url + body["audio_url"], timeout=10).status_code == 200
            models = requests.get(service.url + "/api/models", timeout=10).json()["models"]
            assert [m["error"] for m in models] == [None, None]
    log = service.log()
    assert "WORKER TIMEOUT" not in log and "Traceback" not in log
    assert "is unreachable (Connection refused)" in log
    for name in NOT_LOADED:
        assert log.count(f"serving {name} version 1 (was None)") == 1


def test_a_broken_production_version_is_logged_and_the_old_one_keeps_serving(tiny_models, tmp_path):
    """The watcher, with no request, meets a promoted version that cannot load: it logs why and serves the old."""
    store = make_store(tmp_path / "mlflow")
    register(store, "captioner-lstm", tiny_models["lstm"])  # version 1, `production`; the service serves it alone
    data = picture("PNG", GREEN)
    with Gunicorn(store.uri, tmp_path / "instance", workers=1, MODEL_POLL_SECONDS=1,
                  MODEL_NAMES=["captioner-lstm"]) as service:
        service.wait_for("/readyz")
        first = convert(service.url, data).json()
        assert first["model"] == {"name": "captioner-lstm", "version": "1"}

        register(store, "captioner-lstm", damaged(tiny_models["lstm"], tmp_path))  # version 2 takes `production`
        deadline = time.monotonic() + 60
        while "version 2 failed to load" not in (error := lstm_error(service.url)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "version 2 failed to load" in error and "decoder.keras" not in error  # the path only in the log

        again = convert(service.url, data)
        assert again.status_code == 200
        assert again.json()["model"] == first["model"] and again.json()["caption"] == first["caption"]
        ready = requests.get(service.url + "/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["models"]["captioner-lstm"] == "1"
    log = service.log()
    failure = log.index("ERROR app.services.models: could not load captioner-lstm version 2; still serving 1")
    trace = log[failure:]
    assert "Traceback (most recent call last)" in trace and "decoder.keras" in trace  # why, for the operator
    assert "serving captioner-lstm version 2" not in log


def lstm_error(url: str) -> str:
    return requests.get(url + "/api/models", timeout=10).json()["models"][0]["error"] or ""

