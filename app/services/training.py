"""Training jobs: one ``dvc exp run`` at a time in the background, its log, progress and outcome.

The command is an argument list with one ``-S param=value`` per checked override (no shell).
One job at a time across every worker: a job holds ``joblock`` on ``train/train.lock`` in the
instance folder while it runs. Jobs are rows in the service's SQLite database, so any worker answers
for them and they outlive a restart (a job whose lock is gone without an ending is ``interrupted``).
With ``TRAIN_BROKER_URL`` set, jobs run on Celery workers instead (app/services/remote_training.py).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import insert, select, update

from app.errors import ApiError
from app.services import joblock, train_progress
from app.services.db import Database, train_jobs
from app.services.train_params import dvc_set_arguments
from pipeline import QUIET_ENV
from pipeline.tracking import JOB_ENV  # the job's id, for the pipeline to tag its MLflow runs with

log = logging.getLogger(__name__)
SECRET_ENV = ("ADMIN_TOKEN", "IMAGE_TO_AUDIO_ADMIN_TOKEN")  # never handed to a training job


class TrainingBusy(ApiError):
    status, code = 409, "training_busy"


class TrainingRunner:
    """Starts jobs, watches them, and answers for them."""

    def __init__(self, database: Database, jobs_dir: Path, config: dict[str, Any],
                 on_finish: Callable[[], object] = lambda: None) -> None:
        self.database, self.jobs_dir, self.on_finish = database, jobs_dir, on_finish
        self.command, self.cwd = list(config["TRAIN_COMMAND"]), config["TRAIN_CWD"]
        self.tracking_uri, self.alias = config["MLFLOW_TRACKING_URI"], config["MODEL_ALIAS"]
        self.timeout_s, self.tail_lines = config["TRAIN_TIMEOUT_S"], config["TRAIN_LOG_TAIL_LINES"]
        self.default_estimate_s = config["TRAIN_DEFAULT_ESTIMATE_S"]
        self.lock_path = jobs_dir / "train.lock"
        self._process: subprocess.Popen | None = None
        jobs_dir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)

    def submit(self, overrides: dict[str, Any]) -> str:
        """Start a job with checked overrides and return its id; 409 while another job runs."""
        lock = joblock.try_lock(self.lock_path)
        if lock is None:
            running = self._running_id()
            raise TrainingBusy(f"training job {running or '(starting)'} is still running; one job runs at a time: "
                               "wait for it to finish (GET /api/train/<job_id>)")
        try:
            job_id, argv = uuid.uuid4().hex, [*self.command, *dvc_set_arguments(overrides)]
            self._insert(job_id, overrides, argv, time.time())
            threading.Thread(target=self._run, args=(job_id, argv, lock), name=f"train-{job_id[:8]}",
                             daemon=True).start()
        except BaseException:
            os.close(lock)
            raise
        return job_id

    def _run(self, job_id: str, argv: list[str], lock: int) -> None:
        ending: dict[str, Any] = {"status": "failed", "exit_code": None, "error": None}
        try:
            with open(self.log_path(job_id), "ab") as out:
                # The job inherits the lock (pass_fds), so it stays held while the job lives even if this worker
                # dies: no second job can start beside an orphaned one.
                self._process = subprocess.Popen(argv, cwd=self.cwd, env=self._env(job_id), stdin=subprocess.DEVNULL,
                                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                                 pass_fds=(lock,))
                try:
                    ending["exit_code"] = self._process.wait(timeout=self.timeout_s)
                except subprocess.TimeoutExpired:
                    self.stop()
                    ending["error"] = f"stopped after the time limit of {self.timeout_s} s (TRAIN_TIMEOUT_S)"
            ending = ended(ending["exit_code"], ending["error"])
            ending.update({key: value for key, value in self._outcome(job_id).items() if ending.get(key) is None})
        except Exception as exc:  # a failure of the runner itself must still end the job and free the lock
            log.exception("training job %s: runner failed", job_id)
            ending["error"] = f"the job could not be run: {type(exc).__name__}"
        finally:
            self._process = None
            try:
                self._finish_hook()  # e.g. serve a promoted version before the job reads as finished
                self._update(job_id, finished_at=time.time(), **ending)
            finally:
                os.close(lock)
        log.info("training job %s %s", job_id, ending["status"])

    def _finish_hook(self) -> None:
        try:
            self.on_finish()
        except Exception:  # the job's ending must still be recorded
            log.exception("after a training job: the finish hook failed")

    def _outcome(self, job_id: str) -> dict[str, Any]:
        try:
            return train_progress.find_outcome(self.tracking_uri, self.alias, job_id, self._row(job_id)["created_at"])
        except Exception as exc:  # the store unreachable: the job's own ending still stands
            log.exception("training job %s: cannot look up its MLflow run", job_id)
            return {"error": f"the job ended but its MLflow run could not be looked up: {type(exc).__name__}"}

    def status(self, job_id: str) -> dict[str, Any] | None:
        """The job's state, progress from its log, and outcome; None if there is no such job."""
        row = self._row(job_id)
        if row is None:
            return None
        if row["status"] == "running" and not joblock.is_held(self.lock_path):
            row = self._row(job_id)  # the runner records the ending before it lets the lock go: read it again
            if row["status"] == "running":
                self._update(job_id, status="interrupted", error="the service stopped while the job ran")
                row = self._row(job_id)
        return train_progress.describe(row, train_progress.read_progress(self.log_path(job_id), self.tail_lines))

    def estimate(self, overrides: dict[str, Any]) -> float:
        """Seconds a job should take, from past successful ones (scaled by epochs when both say)."""
        with self.database.connect() as db:
            rows = db.execute(select(train_jobs.c.params, (train_jobs.c.finished_at - train_jobs.c.created_at)
                                     .label("took")).where(train_jobs.c.status == "succeeded")
                              .order_by(train_jobs.c.finished_at.desc()).limit(10)).mappings().all()
        past = [(json.loads(row["params"]).get("epochs"), row["took"]) for row in rows]
        return train_progress.estimate(past, overrides.get("epochs"), self.default_estimate_s)

    def stop(self) -> None:
        """End the running command and its children (time-out or shutdown)."""
        process = self._process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def log_path(self, job_id: str) -> Path:
        return self.jobs_dir / f"{job_id}.log"

    def _env(self, job_id: str) -> dict[str, str]:
        return job_env(job_id, self.tracking_uri)

    def _insert(self, job_id: str, overrides: dict[str, Any], command: list[str], created_at: float) -> None:
        with self.database.connect(write=True) as db:
            db.execute(insert(train_jobs).values(id=job_id, status="running", params=json.dumps(overrides),
                                                 command=json.dumps(command), created_at=created_at))

    def _row(self, job_id: str):
        with self.database.connect() as db:
            return db.execute(select(train_jobs).where(train_jobs.c.id == job_id)).mappings().first()

    def _running_id(self) -> str | None:
        with self.database.connect() as db:
            return db.scalar(select(train_jobs.c.id).where(train_jobs.c.status == "running")
                             .order_by(train_jobs.c.created_at.desc()).limit(1))

    def _update(self, job_id: str, **values: Any) -> None:
        with self.database.connect(write=True) as db:  # names are this module's own, never a client's
            db.execute(update(train_jobs).where(train_jobs.c.id == job_id).values(**values))


def job_env(job_id: str, tracking_uri: str) -> dict[str, str]:
    """This process's environment without the service's secrets, plus what a job needs."""
    bin_dir = str(Path(sys.executable).parent)  # DVC resolves a stage's `python` through PATH
    inherited = {key: value for key, value in os.environ.items() if key not in SECRET_ENV}
    return {**inherited, **QUIET_ENV, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "PYTHONUNBUFFERED": "1", "MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_REGISTRY_URI": tracking_uri,
            JOB_ENV: job_id}


def ended(exit_code: int | None, error: str | None) -> dict[str, Any]:
    """A job's status, exit code and error once its command has ended with ``exit_code`` (None: never ran or
    was stopped; ``error`` then says why)."""
    if exit_code == 0 and error is None:
        return {"status": "succeeded", "exit_code": 0, "error": None}
    if error is None and (exit_code or 0) < 0:
        error = f"the training command was killed by {signal.Signals(-exit_code).name}"
    elif error is None:
        error = f"the training command exited with status {exit_code}: see log_tail"
    return {"status": "failed", "exit_code": exit_code, "error": error}


def init_app(app: Flask) -> None:
    """Attach the runner (jobs run here, or with TRAIN_BROKER_URL on Celery workers); a finished job makes this
    worker check the model aliases at once."""
    instance = Path(app.instance_path)
    registry = app.extensions["models"]
    runner = TrainingRunner
    if app.config["TRAIN_BROKER_URL"]:
        from app.services.remote_training import RemoteTrainingRunner as runner  # imports Celery
    app.extensions["training"] = runner(app.extensions["database"], instance / "train", dict(app.config),
                                        on_finish=registry.refresh)
