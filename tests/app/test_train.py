"""POST /api/train and GET /api/train/<job_id>: auth, the override whitelist, and real background jobs."""

import io
import os
import sys
import time
from pathlib import Path

import pytest
import yaml

from pipeline.names import MODELS
from pipeline.tracking import JOB_TAG
from testkit.pictures import BLUE, picture
from testkit.project import GIT_IDENTITY
from testkit.service import TOKEN, wait_for
from testkit.tiny_models import Captions


@pytest.mark.parametrize(("headers", "status", "code"), [
    ({}, 401, "unauthorized"),
    ({"Authorization": f"Basic {TOKEN}"}, 401, "unauthorized"),
    ({"Authorization": "Bearer "}, 401, "unauthorized"),
    ({"Authorization": "Bearer wrong-token"}, 403, "forbidden"),
    ({"Authorization": f"Bearer {TOKEN}x"}, 403, "forbidden"),
])
def test_training_needs_the_admin_token(client, still_serving, headers, status, code):
    for answer in (client.post("/api/train", json={"epochs": 1}, headers=headers),
                   client.get("/api/train/" + "0" * 32, headers=headers),
                   client.post("/api/models/reload", headers=headers)):
        assert answer.status_code == status and answer.json["error"]["code"] == code
        assert ("admin token" if status == 403 else "Bearer") in answer.json["error"]["message"]
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    still_serving()


def test_without_a_configured_token_training_is_off(make_app, monkeypatch):
    monkeypatch.delenv("ADMIN_TOKEN", raising=False)
    client = make_app(ADMIN_TOKEN=None).test_client()
    for headers in ({}, {"Authorization": "Bearer anything"}, {"Authorization": "Bearer None"}):
        answer = client.post("/api/train", json={}, headers=headers)
        assert answer.status_code == 403 and answer.json["error"]["code"] == "admin_disabled"
        assert "ADMIN_TOKEN" in answer.json["error"]["message"]


@pytest.mark.parametrize(("body", "words"), [
    ({"epochs": "3"}, "epochs must be an integer from 1 to 500"),
    ({"epochs": True}, "epochs must be an integer"),
    ({"epochs": 2.5}, "epochs must be an integer"),
    ({"epochs": 0}, "from 1 to 500"),
    ({"epochs": 10**9}, "from 1 to 500"),
    ({"learning_rate": 5}, "learning_rate must be a number from 1e-06 to 1"),
    ({"learning_rate": -0.1}, "learning_rate"),
    ({"batch_size": 0}, "batch_size must be an integer from 1 to 1024"),
    ({"seed": -1}, "seed must be an integer from 0 to"),
    ({"decoder": "gru", "epochs": 2}, "one of lstm, transformer"),
    ({"decoder": "lstm; rm -rf /", "epochs": 2}, "one of lstm, transformer"),
    ({"decoder": "lstm"}, "decoder only says which decoder the fit settings apply to: give one of epochs, "
                          "learning_rate, batch_size, seed"),
    ({"decoder": "transformer", "dataset_size": 100}, "give one of epochs"),
    ({"dataset_size": 5}, "from 10 to 100000"),
    ({"epochs": 1, "cmd": "sh"}, "unknown parameter: the parameters allowed are epochs, learning_rate"),
    ({"train.fit.epochs": 1}, "unknown parameter"),
    ({"++train.fit.epochs": 1}, "unknown parameter"),
    ([1, 2], "JSON object"),
    ("epochs", "JSON object"),
])
def test_bad_overrides_get_400(client, admin_headers, still_serving, body, words):
    answer = client.post("/api/train", json=body, headers=admin_headers)
    assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_override"
    assert words in answer.json["error"]["message"]
    still_serving()


@pytest.mark.parametrize(("body", "arguments"), [
    ({"epochs": 3, "learning_rate": 0.001},  # both decoders: their own keys, if any, would win over train.fit's
     ["++train.fit.epochs=3", "++train.lstm.fit.epochs=3", "++train.transformer.fit.epochs=3",
      "++train.fit.learning_rate=0.001", "++train.lstm.fit.learning_rate=0.001",
      "++train.transformer.fit.learning_rate=0.001"]),
    ({"decoder": "lstm", "batch_size": 32, "seed": 7}, ["++train.lstm.fit.batch_size=32", "++train.lstm.fit.seed=7"]),
    ({"dataset_size": 20, "decoder": "transformer", "learning_rate": 1e-6},
     ["++download.synthetic.num_images=20", "++train.transformer.fit.learning_rate=1e-06"]),
])
def test_overrides_become_set_params(body, arguments):
    from app.services.train_params import check_overrides, dvc_set_arguments

    assert dvc_set_arguments(check_overrides(body)) == [part for argument in arguments for part in ("-S", argument)]


@pytest.mark.parametrize(("raw", "words"), [
    (b"{not json", "the body is not valid JSON: send an object such as {\"epochs\": 3}"),
    (b'{"learning_rate": NaN}', "learning_rate must be a number from 1e-06 to 1"),
    (b'{"learning_rate": Infinity}', "learning_rate must be a number from 1e-06 to 1"),
])
def test_invalid_json_gets_400(client, admin_headers, raw, words):
    answer = client.post("/api/train", data=raw, headers={**admin_headers, "Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_override"
    assert words in answer.json["error"]["message"]


def test_a_real_training_job_ends_in_a_new_served_model_version(make_app, trained_project, admin_headers,
                                                                 monkeypatch):
    """`dvc exp run` of the tiny pipeline through the API: the transformer learns and beats its untrained version."""
    from mlflow import MlflowClient

    for key in GIT_IDENTITY:  # `dvc exp run` commits the experiment
        monkeypatch.setenv(key, trained_project.env[key])
    uri = trained_project.env["MLFLOW_TRACKING_URI"]
    registry = MlflowClient(uri, uri)

    def production(name: str):
        return registry.get_model_version_by_alias(name, "production")

    before = {name: str(production(name).version) for name in MODELS}
    fit_before = trained_project.params()["train"]["transformer"].get("fit", {})
    app = make_app(uri, TRAIN_COMMAND=[sys.executable, "-m", "dvc", "exp", "run"], TRAIN_CWD=str(trained_project.path))
    client = app.test_client()

    overrides = {"decoder": "transformer", "learning_rate": 0.005, "epochs": 15}
    answer = client.post("/api/train", json=overrides, headers=admin_headers)
    assert answer.status_code == 202, answer.json
    job = answer.json
    assert job["status"] == "running" and job["estimated_time"] == 900  # no past job yet: the setting
    assert answer.headers["Location"] == f"/api/train/{job['job_id']}"

    status = wait_for(client, job["job_id"], admin_headers, timeout=900)
    assert status["status"] == "succeeded", status["log_tail"]
    assert status["exit_code"] == 0 and status["error"] is None and status["params"] == overrides
    log = app.extensions["training"].log_path(job["job_id"]).read_text()
    assert "Running stage 'train@transformer'" in log and "Running stage 'evaluate'" in log
    assert "Running stage 'train@lstm'" not in log and "Running stage 'featurize'" not in log  # only what changed
    assert status["stage"] == "evaluate" and status["epoch"] == {"current": 15, "total": 15}

    new = production("captioner-transformer")
    version = str(new.version)
    assert version != before["captioner-transformer"]
    assert status["model"] == {"name": "captioner-transformer", "version": version}
    assert status["promoted"] is True and "beats" in status["promotion_reason"]
    assert status["mlflow_run_id"] == new.run_id
    run = registry.get_run(new.run_id)
    assert run.data.tags[JOB_TAG] == job["job_id"]
    assert (run.data.params["train.fit.learning_rate"], run.data.params["train.fit.epochs"]) == ("0.005", "15")
    assert trained_project.params()["train"]["transformer"]["fit"] == {**fit_before, "learning_rate": 0.005,
                                                                       "epochs": 15}  # its other keys kept
    untouched = trained_project.params()["train"]
    assert untouched["fit"]["epochs"] == untouched["lstm"]["fit"]["epochs"] == 1  # nor train.fit, nor the LSTM's
    assert str(production("captioner-lstm").version) == before["captioner-lstm"]

    served = {m["name"]: m["version"] for m in client.get("/api/models").json["models"]}
    assert served == {"captioner-lstm": before["captioner-lstm"], "captioner-transformer": version}
    data = picture("PNG", BLUE)  # reloaded when the job ended: the new version answers
    body = client.post("/api/convert", data={"image": (io.BytesIO(data), "b.png"),
                                             "model": "captioner-transformer"}).json
    assert body["model"] == {"name": "captioner-transformer", "version": version}
    assert body["caption"] == Captions(uri, ["captioner-transformer"])(data, "captioner-transformer")

    again = make_app(instance=Path(app.instance_path)).test_client()  # the estimate comes from the past job
    second = client_post_and_wait(again, {"epochs": 30}, admin_headers)
    assert second["estimated_time"] == pytest.approx(2 * status["elapsed"], rel=0.1)  # per epoch


def client_post_and_wait(client, body, headers):
    """POST a job and wait for it; the POST's answer."""
    answer = client.post("/api/train", json=body, headers=headers)
    assert answer.status_code == 202, answer.json
    wait_for(client, answer.json["job_id"], headers)
    return answer.json


def test_one_job_at_a_time(make_app, admin_headers):
    app = make_app(TRAIN_COMMAND=[sys.executable, "-c", "import time; print('Epoch 1/1', flush=True); time.sleep(2)"])
    client = app.test_client()
    first = client.post("/api/train", json={}, headers=admin_headers)
    assert first.status_code == 202
    busy = client.post("/api/train", json={"epochs": 1}, headers=admin_headers)
    assert busy.status_code == 409 and busy.json["error"]["code"] == "training_busy"
    assert first.json["job_id"] in busy.json["error"]["message"]
    status = wait_for(client, first.json["job_id"], admin_headers)
    assert status["status"] == "succeeded" and status["model"] is None and status["promoted"] is None
    deadline = time.monotonic() + 5  # the lock is let go just after the ending is recorded
    while (again := client.post("/api/train", json={}, headers=admin_headers)).status_code == 409:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert again.status_code == 202
    wait_for(client, again.json["job_id"], admin_headers)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc")
def test_the_job_itself_holds_the_lock_so_a_dead_worker_frees_nothing(make_app, admin_headers):
    from app.services import joblock

    app = make_app(TRAIN_COMMAND=[sys.executable, "-c", "import time; time.sleep(3)"])
    client, runner = app.test_client(), app.extensions["training"]
    job_id = client.post("/api/train", json={}, headers=admin_headers).json["job_id"]
    lock = os.path.realpath(runner.lock_path)

    def holders(pid: int | str) -> list[int]:
        fds = Path(f"/proc/{pid}/fd")
        return [int(fd.name) for fd in fds.iterdir() if os.path.realpath(fd) == lock] if fds.is_dir() else []

    deadline = time.monotonic() + 10
    while not (runner._process and holders(runner._process.pid)):  # the job has started, holding the lock
        assert time.monotonic() < deadline, "the job's process never held the lock"
        time.sleep(0.05)
    [mine] = holders("self")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, mine)  # this process lets go of its copy, as a killed worker would
    os.close(null)
    assert joblock.is_held(runner.lock_path)
    assert client.post("/api/train", json={}, headers=admin_headers).status_code == 409
    assert wait_for(client, job_id, admin_headers)["status"] == "succeeded"
    assert not joblock.is_held(runner.lock_path)


def test_a_failing_job_says_so(make_app, admin_headers):
    command = [sys.executable, "-c", "import sys; print(\"Running stage 'train':\"); print('Epoch 1/4'); sys.exit(3)"]
    client = make_app(TRAIN_COMMAND=command).test_client()
    job_id = client.post("/api/train", json={}, headers=admin_headers).json["job_id"]
    status = wait_for(client, job_id, admin_headers)
    assert status["status"] == "failed" and status["exit_code"] == 3 and "exited with status 3" in status["error"]
    assert status["stage"] == "train" and status["epoch"] == {"current": 1, "total": 4}
    missing = client.get("/api/train/" + "f" * 32, headers=admin_headers)
    assert missing.status_code == 404 and missing.json["error"]["message"] == "no such training job"


def test_a_real_dvc_experiment_runs_with_the_overrides(make_app, project, admin_headers, monkeypatch):
    for key in GIT_IDENTITY:
        monkeypatch.setenv(key, project.env[key])
    project.run("git", "add", "-A")
    project.run("git", "commit", "-qm", "pipeline")
    command = [sys.executable, "-m", "dvc", "exp", "run", "download"]  # the one stage that is quick
    client = make_app(TRAIN_COMMAND=command, TRAIN_CWD=str(project.path)).test_client()

    job_id = client.post("/api/train", json={"dataset_size": 20}, headers=admin_headers).json["job_id"]
    status = wait_for(client, job_id, admin_headers, timeout=120)
    assert status["status"] == "succeeded", status["log_tail"]
    assert status["stage"] == "download" and "Ran experiment" in "\n".join(status["log_tail"])
    assert status["mlflow_run_id"] is None and status["model"] is None  # download logs nothing to MLflow
    params = yaml.safe_load((project.path / "params.yaml").read_text())
    assert params["download"]["synthetic"]["num_images"] == 20


def test_a_job_that_ends_while_its_status_is_read_reads_as_ended(app, client, admin_headers, monkeypatch):
    from app.services import training

    runner = app.extensions["training"]
    with runner.database.connect(write=True) as db:
        db.exec_driver_sql("INSERT INTO train_jobs (id, status, params, command, created_at) VALUES (?, ?, ?, ?, ?)",
                           ("b" * 32, "running", "{}", "[]", time.time() - 60))

    def ends_meanwhile(path) -> bool:  # the runner records the ending and lets the lock go after the row was read
        runner._update("b" * 32, finished_at=time.time(), **training.ended(-9, None))
        return False

    monkeypatch.setattr(training.joblock, "is_held", ends_meanwhile)
    status = client.get("/api/train/" + "b" * 32, headers=admin_headers).json
    assert status["status"] == "failed" and status["error"] == "the training command was killed by SIGKILL"


def test_a_job_whose_runner_died_reads_as_interrupted(app, client, admin_headers):
    runner = app.extensions["training"]
    with runner.database.connect(write=True) as db:  # as a worker killed mid-job would leave it: no lock held
        db.exec_driver_sql("INSERT INTO train_jobs (id, status, params, command, created_at) VALUES (?, ?, ?, ?, ?)",
                   ("a" * 32, "running", "{}", "[]", time.time() - 60))
    status = client.get("/api/train/" + "a" * 32, headers=admin_headers).json
    assert status["status"] == "interrupted" and "stopped" in status["error"]
