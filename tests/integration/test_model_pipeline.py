"""A tiny end-to-end `dvc repro` of the whole pipeline with a real MLflow store, the promotion gate,
and the registered model loaded in a fresh process and served by `mlflow models serve`."""

import base64
import io
import json
import re
import socket
import subprocess
import sys
import time

import pytest
import requests
from PIL import Image

from pipeline.logs import NATIVE_NOTICES
from testkit.project import copy_project


@pytest.fixture
def built(tiny_pipeline):
    """The session's tiny `dvc repro` (tests/conftest.py): read it, never change it."""
    return tiny_pipeline, tiny_pipeline.first_repro


def _client(project):
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{project.path}/mlflow.db")


def _png(mode="L", size=(70, 33)):
    buffer = io.BytesIO()
    Image.new(mode, size, 90).save(buffer, "PNG")
    return buffer.getvalue()


def test_repro_prints_no_python_warnings_progress_bars_or_notices_about_its_own_code(built):
    """What a user's terminal shows of `dvc repro`: the stages' own lines, no library warnings, no TensorFlow
    start-up notices, no MLflow progress bars or pickling notice, no DVC notice about an empty dependency."""
    _, first = built
    output = first.stdout + first.stderr
    assert re.findall(r"^.*\w+Warning: .*$", output, re.M) == []
    for notice in (*NATIVE_NOTICES, "Downloading artifacts", "Passing a Python object as", "is empty."):
        assert notice not in output, notice


def test_repro_runs_every_stage_and_registers_both_models(built):
    project, first = built
    for stage in ("download", "preprocess", "featurize", "train@lstm", "train@transformer", "evaluate"):
        assert f"Running stage '{stage}'" in first.stdout
    metrics = json.loads((project.path / "reports/metrics.json").read_text())
    for kind in ("lstm", "transformer"):
        assert {"bleu4", "content", "cider_d", "content_relation"} <= set(metrics[kind])
        assert metrics[kind]["promoted"] is True
        assert (project.path / f"reports/samples/{kind}.png").is_file()
        assert (project.path / f"reports/learning_curves/{kind}.csv").read_text().startswith("epoch,")
    shown = json.loads(project.dvc("metrics", "show", "--json").stdout)[""]["data"]["reports/metrics.json"]["data"]
    assert "bleu4" in shown["lstm"] and "content" in shown["transformer"]

    client = _client(project)
    for kind in ("lstm", "transformer"):
        version = client.get_model_version_by_alias(f"captioner-{kind}", "production")
        run = client.get_run(version.run_id)
        assert run.info.run_name == kind and "git.commit" in run.data.tags or "dvc.data/features" in run.data.tags
        assert "dvc.data/processed" in run.data.tags
        assert "test_bleu4" in run.data.metrics and "val_loss" in run.data.metrics
        history = client.get_metric_history(run.info.run_id, "val_loss")
        assert len(history) >= 1 and history[0].step == 1
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"data", "samples", "featurize.json"} <= artifacts
    assert "Running stage" not in project.dvc("repro").stdout


def test_a_worse_model_does_not_take_production(built, tmp_path):
    project = copy_project(built[0], tmp_path, store=True)
    client = _client(project)
    before = client.get_model_version_by_alias("captioner-lstm", "production")
    assert client.get_run(before.run_id).data.metrics["test_bleu1"] > 0.3  # it learned something
    project.set_params(train={"lstm": {"fit": {"learning_rate": 0.0, "epochs": 1, "xla": False}}})  # learns nothing
    project.dvc("repro")
    latest = max(int(v.version) for v in client.search_model_versions("name='captioner-lstm'"))
    assert latest == int(before.version) + 1
    assert client.get_model_version_by_alias("captioner-lstm", "production").version == before.version
    worse = client.get_run(client.get_model_version("captioner-lstm", str(latest)).run_id)
    assert worse.data.tags["gate.promoted"] == "false" and "does not beat" in worse.data.tags["gate.reason"]


def test_evaluate_reruns_alone_when_only_its_settings_change(built, tmp_path):
    project = copy_project(built[0], tmp_path, store=True)
    client = _client(project)
    before = client.get_model_version_by_alias("captioner-lstm", "production")
    first = client.get_run(before.run_id).data.params["evaluate.beam_width"]
    project.set_params(evaluate={"beam_width": 1})  # greedy now: MLflow params cannot change
    out = project.dvc("repro").stdout
    assert "Running stage 'evaluate'" in out and "Running stage 'train" not in out
    latest = max(int(v.version) for v in client.search_model_versions("name='captioner-lstm'"))
    assert latest == int(before.version) + 1
    run = client.get_run(client.get_model_version("captioner-lstm", str(latest)).run_id)
    assert run.info.run_id == before.run_id  # the same run, evaluated again
    assert run.data.params["evaluate.beam_width"] == first != "1" and run.data.tags["evaluate.beam_width"] == "1"


def test_the_production_model_captions_in_a_fresh_process(built):
    project, _ = built
    script = (
        "import sys, io, pandas as pd, mlflow\n"
        "m = mlflow.pyfunc.load_model('models:/captioner-lstm@production')\n"
        "jpeg = open(sys.argv[1], 'rb').read()\n"
        "out = m.predict(pd.DataFrame({'image': [jpeg, bytes.fromhex(sys.argv[2])]}))\n"
        "print('TABLE', out.to_json(orient='records'))\n")
    image = next((project.path / "data/raw").rglob("*.jpg"))
    done = project.run(sys.executable, "-c", script, str(image), _png().hex())
    rows = json.loads(done.stdout.split("TABLE", 1)[1])
    assert len(rows) == 2 and all(list(row) == ["caption", "in_domain", "confidence", "spoken"] for row in rows)
    assert all(isinstance(r["caption"], str) and isinstance(r["in_domain"], bool) and 0 <= r["confidence"] <= 1
               and r["spoken"] for r in rows)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mlflow_models_serve_answers_invocations(built):
    project, _ = built
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m",
                               "models:/captioner-lstm@production", "--env-manager", "local", "-h", "127.0.0.1",
                               "-p", str(port)], cwd=project.path, env=project.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/ping", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        body = {"dataframe_split": {"columns": ["image"], "data": [[base64.b64encode(_png("RGB")).decode()]]}}
        answer = requests.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        row = answer.json()["predictions"][0]
        assert set(row) == {"caption", "in_domain", "confidence", "spoken"} and isinstance(row["in_domain"], bool)
    finally:
        server.terminate()
        server.wait(timeout=30)
