"""A training job killed mid-training (SIGKILL to its whole process group): a real ``dvc exp run`` of the tiny
pipeline started through ``POST /api/train``. The job reads as failed, nothing is registered or promoted,
and the service goes on serving the version it served.

tests/app/test_train.py covers a job that ends well, a command that exits non-zero, and a job whose
worker died (a row left ``running``); here the job's own processes die while its stage trains.
"""

import io
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from app import create_app
from app.services import joblock
from pipeline.names import MODELS
from pipeline.tracking import JOB_ENV, JOB_TAG
from testkit.pictures import BLUE, picture
from testkit.project import GIT_IDENTITY
from testkit.service import TOKEN, settings
from testkit.tiny_models import Captions

HEADERS = {"Authorization": f"Bearer {TOKEN}"}
# Lets the transformer learn for long enough that it is surely still training when killed
OVERRIDES = {"decoder": "transformer", "learning_rate": 0.005, "epochs": 200}


def test_a_training_job_killed_mid_training_fails_and_changes_no_model(trained_project, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    project = tmp_path / "project"  # a copy, so that the session's project stays as the other tests expect it
    shutil.copytree(trained_project.path, project, symlinks=True)
    uri = f"sqlite:///{project / 'mlflow.db'}"
    for key in GIT_IDENTITY:  # `dvc exp run` commits the experiment
        monkeypatch.setenv(key, trained_project.env[key])
    registry = MlflowClient(uri, uri)

    def production() -> dict[str, str]:
        return {name: str(registry.get_model_version_by_alias(name, "production").version) for name in MODELS}

    def versions() -> dict[str, int]:
        return {name: len(registry.search_model_versions(f"name = '{name}'")) for name in MODELS}

    before, versions_before = production(), versions()
    command = [sys.executable, "-m", "dvc", "exp", "run"]
    app = create_app(settings(uri, TRAIN_COMMAND=command, TRAIN_CWD=str(project)), instance_path=tmp_path / "instance")
    client = app.test_client()
    try:
        status = start_and_kill(client)
    finally:  # had it failed before its kill: end the job rather than leave it training
        app.extensions["training"].stop()

    assert status["status"] == "failed" and status["exit_code"] == -signal.SIGKILL
    assert status["error"] == "the training command was killed by SIGKILL"
    assert status["finished_at"] is not None
    assert status["stage"] == "train@transformer" and status["epoch"]["current"] < OVERRIDES["epochs"]
    assert status["model"] is None and status["promoted"] is False  # its run began, and registered nothing
    assert registry.get_run(status["mlflow_run_id"]).data.tags[JOB_TAG] == status["job_id"]
    assert not processes_of(status["job_id"]), "a process of the killed job still runs"
    assert not joblock.is_held(app.extensions["training"].lock_path)  # the next job may start

    assert production() == before and versions() == versions_before
    assert {m["name"]: m["version"] for m in client.get("/api/models").json["models"]} == before
    data = picture("PNG", BLUE)
    form = {"image": (io.BytesIO(data), "b.png"), "model": "captioner-transformer"}
    answer = client.post("/api/convert", data=form)
    assert answer.status_code == 200
    assert answer.json["model"] == {"name": "captioner-transformer", "version": before["captioner-transformer"]}
    assert answer.json["caption"] == Captions(uri, ["captioner-transformer"])(data, "captioner-transformer")


def start_and_kill(client) -> dict:
    """Start the job, SIGKILL its process group once its train stage trains, and return its final status."""
    answer = client.post("/api/train", json=OVERRIDES, headers=HEADERS)
    assert answer.status_code == 202, answer.json
    job_id = answer.json["job_id"]
    deadline = time.monotonic() + 300
    while (status := job(client, job_id))["stage"] != "train@transformer" or status["epoch"] is None:
        assert status["status"] == "running", status
        assert time.monotonic() < deadline, f"the train stage did not start: {status['log_tail']}"
        time.sleep(0.1)
    groups = set(processes_of(job_id).values())
    assert len(groups) == 1 and os.getpgrp() not in groups, groups  # the runner starts a session of its own
    os.killpg(groups.pop(), signal.SIGKILL)  # `dvc exp run`, the stage's shell and its Python, at once
    deadline = time.monotonic() + 60
    while (status := job(client, job_id))["status"] == "running":
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    return status


def job(client, job_id: str) -> dict:
    answer = client.get(f"/api/train/{job_id}", headers=HEADERS)
    assert answer.status_code == 200, answer.json
    return answer.json


def processes_of(job_id: str) -> dict[int, int]:
    """Live processes (pid: process group) whose environment carries the job's id, as the runner sets it."""
    marker = f"{JOB_ENV}={job_id}".encode()
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                state, _, group = (proc / "stat").read_text().rsplit(")", 1)[1].split()[:3]
                if state not in ("Z", "X"):
                    found[int(proc.name)] = int(group)
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found
