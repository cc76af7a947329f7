"""A training job run by a Celery worker, as every replica sees it: a hash in Redis with the columns of the
``train_jobs`` table plus the worker's view of it (``started_at``, ``worker``, ``stage``, ``epoch``,
``log_tail``). The replica that accepts a job creates it; the worker running the job writes the rest.
Each value is stored as JSON; a record is kept for ``KEEP_S`` after its last change.
"""

from __future__ import annotations

import json
from typing import Any

import redis

PREFIX = "image-to-audio:train:job:"
KEEP_S = 30 * 24 * 3600
ENDING = ("status", "finished_at", "exit_code", "error", "mlflow_run_id", "model_name", "model_version", "promoted",
          "promotion_reason")
COLUMNS = ("id", "params", "command", "created_at", *ENDING)


def write(client: redis.Redis, job_id: str, **fields: Any) -> None:
    """Set ``fields`` of the job's record (creating it), and keep it ``KEEP_S`` from now."""
    key = PREFIX + job_id
    with client.pipeline() as pipe:  # one round trip, applied together
        pipe.hset(key, mapping={name: json.dumps(value) for name, value in fields.items()})
        pipe.expire(key, KEEP_S)
        pipe.execute()


def read(client: redis.Redis, job_id: str) -> dict[str, Any] | None:
    """The job's record, or None if there is none."""
    fields = client.hgetall(PREFIX + job_id)
    return {name.decode(): json.loads(value) for name, value in fields.items()} or None


def as_row(record: dict[str, Any]) -> dict[str, Any]:
    """The record's ``train_jobs`` columns (what ``train_progress.describe`` reads), params as JSON text."""
    row = {name: record.get(name) for name in COLUMNS}
    row["params"] = json.dumps(record.get("params") or {})
    return row


def progress(record: dict[str, Any]) -> dict[str, Any]:
    """The record's stage, epoch and log tail."""
    return {"stage": record.get("stage"), "epoch": record.get("epoch"), "log_tail": record.get("log_tail") or []}
