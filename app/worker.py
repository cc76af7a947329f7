"""The Celery worker that runs training jobs for the service's replicas (``TRAIN_BROKER_URL``):

    IMAGE_TO_AUDIO_TRAIN_BROKER_URL=redis://HOST:6379/1 celery -A app.worker worker --concurrency 1

It reads the service's settings as the service does (app/config.py: its own ``TRAIN_COMMAND``, ``TRAIN_CWD``,
``MLFLOW_TRACKING_URI``, ``TRAIN_TIMEOUT_S``, ``TRAIN_LEASE_S``), runs each job's command with the job's
``-S`` overrides in its own checkout, without the service's secrets in its environment, and keeps the job's
record in Redis (app/services/job_records.py) up to date: stage, epoch, log tail, then the ending and the MLflow
outcome. The full log stays in the worker's instance folder (``train/<job_id>.log``). While the job runs the
worker renews the deployment's job lock; it lets it go after recording the ending.

A job ends ``succeeded`` or ``failed`` (its exit status, or the time limit), or ``interrupted`` when the
worker's process running it gets SIGTERM or the job loses the lock. If the worker dies, its job dies with it
(at once, or at its next line of output when the pipe it writes to is gone) and the replicas read it as
``interrupted`` once the lock has run out.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import redis
from flask import Config

from app.config import default_instance_path, load_config
from app.services import job_records, lease, redis_client, train_progress
from app.services.remote_training import TASK, make_celery
from app.services.training import ended, job_env

log = logging.getLogger(__name__)
FLUSH_S = 0.5  # how often the record gets the job's progress


def _load_config() -> Config:
    config = Config(str(default_instance_path()))
    load_config(config)
    if not config["TRAIN_BROKER_URL"]:
        raise ValueError("the training worker needs TRAIN_BROKER_URL: set IMAGE_TO_AUDIO_TRAIN_BROKER_URL to the "
                         "Redis URL the service's replicas use, e.g. redis://HOST:6379/0")
    return config


config = _load_config()
celery = make_celery(config["TRAIN_BROKER_URL"])


@celery.task(name=TASK)
def train(job_id: str, arguments: list[str]) -> None:
    """Run one job queued by a replica."""
    Job(job_id, arguments, config).run()


_PRCTL = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None  # looked up before any fork


def _die_with_parent() -> None:
    """In the job's process, between fork and exec: be killed when the worker process dies (Linux). One C call,
    no Python lock taken, so it is safe beside the worker's other threads."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Job:
    """One job on this worker: its command, its output, its record and its lease."""

    def __init__(self, job_id: str, arguments: list[str], settings: Config) -> None:
        self.id, self.settings = job_id, settings
        self.argv = [*settings["TRAIN_COMMAND"], *arguments]
        self.redis = redis_client.connect(settings["TRAIN_BROKER_URL"])
        self.lease_s = settings["TRAIN_LEASE_S"]
        self.log_path = Path(settings.root_path) / "train" / f"{job_id}.log"  # the worker's instance folder
        self.window = ""  # the end of the log, for the progress
        self.renewer: lease.Renewer | None = None
        self.stopped_by: str | None = None

    def run(self) -> None:
        """Run the job if it still holds the lock, recording it as it goes; always let the lock go after."""
        if not lease.renew(self.redis, self.id, self.lease_s):
            log.warning("training job %s: its lock is gone (it waited too long in the queue); not run", self.id)
            return
        record = job_records.read(self.redis, self.id) or {}
        job_records.write(self.redis, self.id, started_at=time.time(), worker=socket.gethostname(), command=self.argv)
        log.info("training job %s: %s in %s", self.id, self.argv, self.settings["TRAIN_CWD"])
        ending: dict[str, Any] = {"status": "failed", "exit_code": None, "error": None}
        try:
            with lease.Renewer(self.redis, self.id, self.lease_s) as self.renewer:  # until the ending is recorded
                try:
                    ending = self._run_command()
                    if ending["status"] != "interrupted":
                        ending.update({k: v for k, v in self._outcome(record.get("created_at") or time.time()).items()
                                       if ending.get(k) is None})
                except Exception as exc:  # a failure of the worker itself (e.g. no TRAIN_CWD) must still end the job
                    log.exception("training job %s: the worker failed", self.id)
                    ending["error"] = f"the job could not be run on its worker: {type(exc).__name__}: {exc}"
                try:
                    job_records.write(self.redis, self.id, finished_at=time.time(), **ending)
                except redis.RedisError:  # the replicas will read it as interrupted once the lock runs out
                    log.exception("training job %s: cannot record its ending (%s)", self.id, ending["status"])
        finally:
            lease.release(self.redis, self.id)
        log.info("training job %s %s", self.id, ending["status"])

    def _run_command(self) -> dict[str, Any]:
        """Start the command, follow it until it ends, and say how it ended."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        previous = self._on_sigterm()
        try:
            process = subprocess.Popen(self.argv, cwd=self.settings["TRAIN_CWD"],
                                       env=job_env(self.id, self.settings["MLFLOW_TRACKING_URI"]),
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       start_new_session=True, preexec_fn=_die_with_parent)  # noqa: PLW1509
            reader = threading.Thread(target=self._read, args=(process,), name=f"log-{self.id[:8]}", daemon=True)
            reader.start()
            error = self._follow(process)
            reader.join(timeout=10)
            self._flush()
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        if self.stopped_by:
            return {"status": "interrupted", "exit_code": process.returncode, "error": self.stopped_by}
        return ended(process.returncode, error)

    def _follow(self, process: subprocess.Popen) -> str | None:
        """Publish progress until the command ends; stop it on a time-out, a SIGTERM or a lost lock. The error to
        report, if it was stopped for its time."""
        started, timeout_s = time.monotonic(), self.settings["TRAIN_TIMEOUT_S"]
        while process.poll() is None:
            time.sleep(FLUSH_S)
            if self.renewer.lost:
                self.stopped_by = "the job lost the deployment's job lock (it ran out, or Redis lost it)"
            if self.stopped_by:
                self._stop(process)
                return None
            if time.monotonic() - started > timeout_s:
                self._stop(process)
                return f"stopped after the time limit of {timeout_s} s (TRAIN_TIMEOUT_S)"
            self._flush()
        return None

    def _read(self, process: subprocess.Popen) -> None:
        """Copy the command's output into the log file and the window, as it comes."""
        with open(self.log_path, "ab") as out:
            while chunk := process.stdout.read1(65536):
                out.write(chunk)
                out.flush()
                self.window = (self.window + chunk.decode("utf-8", errors="replace"))[-train_progress.LOG_WINDOW:]

    def _flush(self) -> None:
        try:
            job_records.write(self.redis, self.id,
                              **train_progress.progress_of(self.window, self.settings["TRAIN_LOG_TAIL_LINES"]))
        except redis.RedisError as error:  # the job goes on; the next flush tries again
            log.warning("training job %s: cannot record its progress: %s", self.id, error)

    def _on_sigterm(self):
        """Make SIGTERM to this process (what `celery control revoke --terminate` sends) stop the job; the old
        handler."""
        def stop(signum: int, frame: object) -> None:
            self.stopped_by = f"the worker was stopped ({signal.Signals(signum).name}) while the job ran"

        if threading.current_thread() is not threading.main_thread():
            return None
        return signal.signal(signal.SIGTERM, stop)

    @staticmethod
    def _stop(process: subprocess.Popen) -> None:
        """End the command and its children (its process group): SIGTERM, then SIGKILL."""
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def _outcome(self, created_at: float) -> dict[str, Any]:
        try:
            return train_progress.find_outcome(self.settings["MLFLOW_TRACKING_URI"], self.settings["MODEL_ALIAS"],
                                               self.id, created_at)
        except Exception as exc:  # the store unreachable: the job's own ending still stands
            log.exception("training job %s: cannot look up its MLflow run", self.id)
            return {"error": f"the job ended but its MLflow run could not be looked up: {type(exc).__name__}"}
