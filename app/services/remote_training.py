"""Training jobs on Celery workers (``TRAIN_BROKER_URL``): the replica's side.

``submit`` takes the deployment's job lock (app/services/lease.py) for as long as the job may wait for a worker,
records the job in Redis (app/services/job_records.py) and in this service's database, and queues the task;
a worker (app/worker.py) runs it and writes its progress and ending to the record. ``status`` answers from the
record on any replica; a job whose lock is gone without an ending reads as ``interrupted`` (its worker
died) or ``failed`` (no worker took it in time). A replica that sees a job's ending copies it into its own
database row, if it has the row, and checks the model aliases.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from kombu.exceptions import KombuError

from app.errors import ApiError
from app.services import job_records, lease, redis_client, train_progress
from app.services.db import Database
from app.services.train_params import dvc_set_arguments
from app.services.training import TrainingBusy, TrainingRunner

log = logging.getLogger(__name__)
TASK = "image_to_audio.train"  # the task's name, shared by the replicas that send it and the workers that run it
START_WORKER = "start one: `celery -A app.worker worker --concurrency 1` with the same TRAIN_BROKER_URL"


class BrokerUnavailable(ApiError):
    status, code = 503, "training_broker_unavailable"


def make_celery(broker_url: str) -> Celery:
    """The Celery app of the training jobs: one job per worker process at a time, taken off the queue only when
    it can run, and acknowledged when taken (a job whose worker dies is not run a second time)."""
    celery = Celery("image_to_audio", broker=broker_url)
    celery.conf.update(task_ignore_result=True, task_acks_late=False, worker_prefetch_multiplier=1,
                       broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)
    return celery


class RemoteTrainingRunner(TrainingRunner):
    """Hands jobs to Celery workers on ``TRAIN_BROKER_URL`` and answers for them from Redis."""

    def __init__(self, database: Database, jobs_dir: Path, config: dict[str, Any],
                 on_finish: Callable[[], object] = lambda: None) -> None:
        super().__init__(database, jobs_dir, config, on_finish)
        self.redis = redis_client.connect(config["TRAIN_BROKER_URL"])
        self.celery = make_celery(config["TRAIN_BROKER_URL"])
        self.queue_timeout_s = config["TRAIN_QUEUE_TIMEOUT_S"]

    def submit(self, overrides: dict[str, Any]) -> str:
        """Queue a job with checked overrides and return its id; 409 while another job holds the lock."""
        job_id, arguments = uuid.uuid4().hex, dvc_set_arguments(overrides)
        try:
            taken = lease.take(self.redis, job_id, self.queue_timeout_s)
            holder = None if taken else lease.holder(self.redis)
        except redis.RedisError as error:
            raise self._unavailable(error) from None
        if not taken:
            raise TrainingBusy(f"training job {holder or '(ending)'} is still running; one job runs at a time: "
                               "wait for it to finish (GET /api/train/<job_id>)")
        created = time.time()
        try:
            job_records.write(self.redis, job_id, id=job_id, status="running", params=overrides, command=arguments,
                              created_at=created)
            self.celery.send_task(TASK, args=[job_id, arguments], expires=self.queue_timeout_s)
        except (redis.RedisError, KombuError) as error:
            with contextlib.suppress(redis.RedisError):  # not queued: the next job may start
                lease.release(self.redis, job_id)
            raise self._unavailable(error) from None
        self._insert(job_id, overrides, arguments, created)  # as a local job's: for the estimate, and kept
        log.info("training job %s queued for a worker", job_id)
        return job_id

    def status(self, job_id: str) -> dict[str, Any] | None:
        """The job's state, progress and outcome as its worker recorded them; None if there is no such job."""
        try:
            record = job_records.read(self.redis, job_id)
            if record is not None and record["status"] == "running" and lease.holder(self.redis) != job_id:
                record = job_records.read(self.redis, job_id)  # a worker records the ending before letting go
                if record["status"] == "running":
                    self._abandoned(job_id, record)
                    record = job_records.read(self.redis, job_id)
        except redis.RedisError as error:
            raise self._unavailable(error) from None
        if record is None:  # past KEEP_S, or Redis lost its data: what this service's row says, if it has one
            if (row := self._row(job_id)) is not None and row["status"] == "running":
                self._update(job_id, status="interrupted", error="the job's record in Redis is gone")
            if (row := self._row(job_id)) is None:
                return None
            return train_progress.describe(row, train_progress.progress_of("", self.tail_lines))  # no log here
        if record["status"] != "running":
            self._copy_ending(job_id, record)
        return train_progress.describe(job_records.as_row(record), job_records.progress(record))

    def _abandoned(self, job_id: str, record: dict[str, Any]) -> None:
        """End a job whose lock is gone without an ending: its worker died, or no worker took it in time."""
        if record.get("started_at") is None:
            ending = {"status": "failed", "error": f"no worker took the job within {self.queue_timeout_s} s "
                                                   f"(TRAIN_QUEUE_TIMEOUT_S): {START_WORKER}"}
        else:
            ending = {"status": "interrupted", "error": f"the worker running the job ({record.get('worker')}) "
                                                        "stopped renewing its lease: it died or lost Redis"}
        log.warning("training job %s: %s", job_id, ending["error"])
        job_records.write(self.redis, job_id, finished_at=time.time(), **ending)

    def _copy_ending(self, job_id: str, record: dict[str, Any]) -> None:
        """Copy an ended job into this service's row of it, once, and check the model aliases (in the background)."""
        row = self._row(job_id)
        if row is None or row["status"] != "running":
            return
        self._update(job_id, **{name: record.get(name) for name in job_records.ENDING})
        threading.Thread(target=self._finish_hook, name="after-training", daemon=True).start()  # not in the request

    def _unavailable(self, error: BaseException) -> BrokerUnavailable:
        log.error("training broker unreachable: %s", error)
        return BrokerUnavailable("the training queue (Redis, TRAIN_BROKER_URL) cannot be reached: try again later")

    def stop(self) -> None:
        """Nothing runs in this process: a job's worker stops it."""
