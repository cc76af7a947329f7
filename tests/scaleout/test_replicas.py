"""Replicas of the service on one Redis: two gunicorn servers share the rate limit, hand training jobs to a
Celery worker with its own working folder, and both answer for the job, refuse a second one while it runs,
and read it as ended when its worker dies or no worker takes it.

The replicas have no models (their stores are empty): conversions answer 503, which the rate limit counts as
it counts any conversion. The job's command is a small script that prints progress as DVC and Keras do.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests

from pipeline.tracking import JOB_ENV
from testkit.gunicorn import serve
from testkit.pictures import picture
from testkit.scaleout import RedisServer, TrainingWorker
from testkit.service import TOKEN

HEADERS = {"Authorization": f"Bearer {TOKEN}"}
LIMIT = 5  # conversions per minute, per client, across both replicas
LEASE_S = 2
QUEUE_TIMEOUT_S = 6
# The job: says where it runs, what it got and whether it sees the admin token, then reports an epoch every
# 0.2 s until a file named "release" appears in its working folder
JOB = """
import os, sys, time
print("cwd", os.getcwd(), "arguments", " ".join(sys.argv[1:]), flush=True)
print("admin token", "present" if {"ADMIN_TOKEN", "IMAGE_TO_AUDIO_ADMIN_TOKEN"} & set(os.environ) else "absent")
print("Running stage 'train@transformer':", flush=True)
epoch = 0
while not os.path.exists("release"):
    epoch += 1
    print(f"Epoch {epoch}/100", flush=True)
    time.sleep(0.2)
print("done", flush=True)
"""


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tracking store with no model, made once (creating its tables takes seconds) for every process here."""
    from testkit.tiny_models import make_store

    return make_store(tmp_path_factory.mktemp("empty-store")).uri


@pytest.fixture(scope="module")
def replicas(redis_server: RedisServer, empty_store: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Two replicas (one worker each), each with its own instance folder (database), on ``redis_server``."""
    folder = tmp_path_factory.mktemp("replicas")
    settings = {"RATE_LIMIT": f"{LIMIT}/minute", "RATE_LIMIT_STORAGE_URL": redis_server.url(0),
                "TRAIN_BROKER_URL": redis_server.url(1), "TRAIN_LEASE_S": str(LEASE_S),
                "TRAIN_QUEUE_TIMEOUT_S": str(QUEUE_TIMEOUT_S), "ADMIN_TOKEN": TOKEN, "MODEL_POLL_SECONDS": "0",
                "TEXT_WARM_UP": "false", "SPEECH_ENGINE": "espeak"}
    servers = [serve(empty_store, folder / name, workers=1, threads=4, ready="/healthz", **settings)
               for name in ("a", "b")]
    started = []

    def enter(server) -> str:
        url = server.__enter__()[0]
        started.append(server)
        return url

    try:
        with ThreadPoolExecutor(len(servers)) as pool:  # side by side: each takes 10 to 20 s to start, 5 to stop
            a, b = pool.map(enter, servers)
        yield a, b
    finally:
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(lambda server: server.__exit__(None, None, None), started))


@pytest.fixture
def start_worker(redis_server: RedisServer, empty_store: str, tmp_path: Path) -> Iterator:
    """``start_worker(**settings)``: a training worker whose checkout is a folder of its own holding the job script.
    It has the admin token in its environment, as a careless deployment would give it."""
    checkout = tmp_path / "worker-checkout"
    checkout.mkdir()
    (checkout / "job.py").write_text(JOB)
    env = {"ADMIN_TOKEN": TOKEN, "MLFLOW_TRACKING_URI": empty_store}
    with contextlib.ExitStack() as stack:
        def start(**settings: object) -> TrainingWorker:
            worker = TrainingWorker(tmp_path / "worker", redis_server.url(1), env=env, TRAIN_CWD=str(checkout),
                                    TRAIN_COMMAND=[sys.executable, "job.py"], TRAIN_LEASE_S=LEASE_S, **settings)
            stack.enter_context(worker)
            worker.checkout = checkout
            return worker

        yield start


@pytest.fixture
def worker(start_worker) -> TrainingWorker:
    return start_worker()


def test_replicas_share_the_rate_limit(replicas):
    a, b = replicas
    answers = [requests.post(f"{url}/api/convert", files={"image": ("p.png", io.BytesIO(picture()))}, timeout=30)
               for url in (a, b, a, b, a, b, a)]
    assert [answer.status_code for answer in answers[:LIMIT]] == [503] * LIMIT  # no models, but counted
    for answer in answers[LIMIT:]:  # each replica alone has seen at most 3: the count is shared
        assert answer.status_code == 429 and answer.json()["error"]["code"] == "too_many_requests"
        assert int(answer.headers["Retry-After"]) > 0


def test_a_job_queued_on_one_replica_runs_on_the_worker_and_both_replicas_follow_it(replicas, worker):
    a, b = replicas
    answer = requests.post(f"{a}/api/train", json={"epochs": 3}, headers=HEADERS, timeout=30)
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]

    status = wait_for(b, job_id, lambda s: s["epoch"] is not None)
    assert status["status"] == "running" and status["stage"] == "train@transformer"
    assert status["params"] == {"epochs": 3} and status["log_tail"][-1].startswith("Epoch ")
    log = "\n".join(status["log_tail"])
    assert f"cwd {worker.checkout}" in log and "-S ++train.fit.epochs=3" in log  # the worker's folder and command
    assert "admin token absent" in log
    for url in (a, b):  # one job at a time, whichever replica is asked
        busy = requests.post(f"{url}/api/train", json={}, headers=HEADERS, timeout=30)
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "training_busy"
        assert job_id in busy.json()["error"]["message"]

    (worker.checkout / "release").touch()
    status = wait_for(b, job_id, lambda s: s["status"] != "running")
    assert status["status"] == "succeeded" and status["exit_code"] == 0 and status["error"] is None
    assert status["log_tail"][-1] == "done" and status["finished_at"] is not None
    assert status["epoch"]["total"] == 100 and status["model"] is None  # the script logged nothing to MLflow
    assert get(a, job_id) == status
    assert "done" in (worker.folder / "train" / f"{job_id}.log").read_text()  # the full log stays on the worker

    again = requests.post(f"{b}/api/train", json={}, headers=HEADERS, timeout=30)  # the lock is free again
    assert again.status_code == 202, again.text
    assert wait_for(a, again.json()["job_id"], lambda s: s["status"] != "running")["status"] == "succeeded"


def test_a_job_whose_worker_is_killed_reads_as_interrupted(replicas, worker):
    a, b = replicas
    job_id = requests.post(f"{a}/api/train", json={}, headers=HEADERS, timeout=30).json()["job_id"]
    wait_for(b, job_id, lambda s: s["epoch"] is not None)
    assert processes_of(job_id), "the job is not running"
    os.killpg(worker.process.pid, signal.SIGKILL)  # the worker and its pool process, as a machine dies

    status = wait_for(b, job_id, lambda s: s["status"] != "running", timeout=LEASE_S + 20)
    assert status["status"] == "interrupted" and "stopped renewing" in status["error"]
    assert status["finished_at"] is not None and status["stage"] == "train@transformer"
    deadline = time.monotonic() + 10
    while processes_of(job_id):  # the job dies with its worker
        assert time.monotonic() < deadline, "the job of the killed worker still runs"
        time.sleep(0.1)
    assert get(a, job_id)["status"] == "interrupted"


def test_a_job_whose_worker_process_is_stopped_reads_as_interrupted(replicas, worker):
    a, b = replicas
    job_id = requests.post(f"{b}/api/train", json={}, headers=HEADERS, timeout=30).json()["job_id"]
    wait_for(a, job_id, lambda s: s["epoch"] is not None)
    [job] = processes_of(job_id)
    pool_process = int(Path(f"/proc/{job}/stat").read_text().rsplit(")", 1)[1].split()[1])  # the job's parent
    os.kill(pool_process, signal.SIGTERM)  # what `celery control revoke --terminate` sends

    status = wait_for(a, job_id, lambda s: s["status"] != "running")
    assert status["status"] == "interrupted" and status["error"] == "the worker was stopped (SIGTERM) while the job ran"
    assert not processes_of(job_id)  # its process group was ended before the ending was recorded
    assert worker.process.poll() is None  # the worker itself goes on


def test_a_job_past_the_workers_time_limit_is_stopped_and_fails(replicas, start_worker):
    a, b = replicas
    start_worker(TRAIN_TIMEOUT_S=1)
    job_id = requests.post(f"{a}/api/train", json={}, headers=HEADERS, timeout=30).json()["job_id"]
    status = wait_for(b, job_id, lambda s: s["status"] != "running")
    assert status["status"] == "failed" and status["error"] == "stopped after the time limit of 1 s (TRAIN_TIMEOUT_S)"
    assert status["epoch"] is not None and not processes_of(job_id)


def test_a_job_no_worker_takes_fails_once_it_has_waited_too_long(replicas, start_worker):
    a, b = replicas
    answer = requests.post(f"{b}/api/train", json={}, headers=HEADERS, timeout=30)
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]
    assert get(a, job_id)["status"] == "running"  # queued: it waits for a worker
    status = wait_for(a, job_id, lambda s: s["status"] != "running", timeout=QUEUE_TIMEOUT_S + 20)
    assert status["status"] == "failed" and "no worker took the job" in status["error"]
    assert "celery -A app.worker worker" in status["error"]

    late = start_worker()  # a worker that comes too late does not run it
    deadline = time.monotonic() + 20
    while "Task image_to_audio.train[" not in (log := late.log_file.read_text(errors="replace")):  # received
        assert time.monotonic() < deadline, f"the worker never saw the queued task:\n{log}"
        time.sleep(0.2)
    time.sleep(1)
    assert f"training job {job_id}: [" not in late.log_file.read_text() and not processes_of(job_id)
    assert get(b, job_id) == status


def test_without_redis_limits_are_counted_in_memory_and_training_answers_503(tmp_path, make_redis_app):
    """Redis going away at run time: each worker counts in its own memory (logged), and goes back to Redis."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        client = make_redis_app(server.url(0), server.url(1)).test_client()
        assert convert(client) == 503
        assert redis.Redis(port=server.port).keys("LIMITS:*"), "the count is not in Redis"
        server.stop()
        assert [convert(client) for _ in range(4)] == [503, 503, 503, 429]  # 3/minute, counted in memory
        for answer in (client.post("/api/train", json={}, headers=HEADERS),
                       client.get("/api/train/" + "0" * 32, headers=HEADERS)):
            assert answer.status_code == 503 and answer.json["error"]["code"] == "training_broker_unavailable"
            assert "TRAIN_BROKER_URL" in answer.json["error"]["message"]
        server = RedisServer(tmp_path / "redis", port=server.port).start()
        deadline = time.monotonic() + 30
        while not redis.Redis(port=server.port).keys("LIMITS:*"):  # checked again after 1, 2, 4 ... s
            assert time.monotonic() < deadline, "the limit never went back to Redis"
            convert(client)
            time.sleep(0.5)
    finally:
        server.stop()


@pytest.fixture
def make_redis_app(tmp_path, empty_store):
    from app import create_app
    from testkit.service import settings

    def make(limits_url: str, broker_url: str):
        return create_app(settings(empty_store, RATE_LIMIT="3/minute",
                                   RATE_LIMIT_STORAGE_URL=limits_url, TRAIN_BROKER_URL=broker_url),
                          instance_path=tmp_path / "instance")

    return make


def convert(client) -> int:
    return client.post("/api/convert", data={"image": (io.BytesIO(picture()), "p.png")}).status_code


def get(url: str, job_id: str) -> dict:
    answer = requests.get(f"{url}/api/train/{job_id}", headers=HEADERS, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_for(url: str, job_id: str, done, timeout: float = 60) -> dict:
    """Poll the job on ``url`` until ``done(status)``; its status."""
    deadline = time.monotonic() + timeout
    while not done(status := get(url, job_id)):
        assert time.monotonic() < deadline, f"job {job_id} after {timeout} s: {json.dumps(status)}"
        time.sleep(0.2)
    return status


def processes_of(job_id: str) -> list[int]:
    """Live processes whose environment carries the job's id, as the worker sets it."""
    marker = f"{JOB_ENV}={job_id}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if marker in (proc / "environ").read_bytes().split(b"\0") and state not in ("Z", "X"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found
