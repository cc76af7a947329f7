"""What a training job is doing and what it made: progress from its log, outcome from MLflow."""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.services.db import iso
from pipeline.tracking import JOB_TAG  # the pipeline tags a job's runs with its id

STAGE = re.compile(r"Running stage '([^']+)'")  # DVC
EPOCH = re.compile(r"\bEpoch (\d+)/(\d+)")  # Keras
LOG_WINDOW = 1024 * 1024  # bytes read from the end of a log


def read_progress(log_path: Path, tail_lines: int) -> dict[str, Any]:
    """The current stage and epoch and the last lines of a job's log."""
    try:
        with open(log_path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - LOG_WINDOW))
            text = f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        text = ""
    return progress_of(text, tail_lines)


def progress_of(text: str, tail_lines: int) -> dict[str, Any]:
    """The last stage and epoch named in the end of a log, ``text``, and its last lines."""
    lines = [line.rstrip() for line in re.split(r"[\r\n]+", text) if line.strip()]
    stages, epochs = STAGE.findall(text), EPOCH.findall(text)
    epoch = {"current": int(epochs[-1][0]), "total": int(epochs[-1][1])} if epochs else None
    return {"stage": stages[-1] if stages else None, "epoch": epoch, "log_tail": lines[-tail_lines:]}


def describe(row: Any, progress: dict[str, Any]) -> dict[str, Any]:
    """The answer of ``GET /api/train/<job_id>``: a job's row (or a mapping with its columns) and its progress."""
    finished = row["finished_at"]
    model = {"name": row["model_name"], "version": row["model_version"]} if row["model_version"] else None
    return {
        "job_id": row["id"],
        "status": row["status"],
        "params": json.loads(row["params"]),
        "created_at": iso(row["created_at"]),
        "finished_at": iso(finished) if finished else None,
        "elapsed": round((finished or time.time()) - row["created_at"], 1),
        "exit_code": row["exit_code"],
        "error": row["error"],
        **progress,
        "mlflow_run_id": row["mlflow_run_id"],
        "model": model,
        "promoted": None if row["promoted"] is None else bool(row["promoted"]),
        "promotion_reason": row["promotion_reason"],
    }


def find_outcome(tracking_uri: str, alias: str, job_id: str, since: float) -> dict[str, Any]:
    """The job's MLflow run (tagged with the job id, else the newest since it started), model version, promotion."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return {}
    newest = ["attributes.start_time DESC"]
    runs = client.search_runs(experiments, f"tags.`{JOB_TAG}` = '{job_id}'", order_by=newest, max_results=1)
    if not runs:
        runs = client.search_runs(experiments, f"attributes.start_time >= {int(since * 1000)}", order_by=newest,
                                  max_results=1)
    if not runs:
        return {}
    run_id = runs[0].info.run_id
    versions = client.search_model_versions(f"run_id = '{run_id}'")
    if not versions:
        return {"mlflow_run_id": run_id, "promoted": False}
    version = max(versions, key=lambda v: int(v.version))
    aliases = client.get_model_version(version.name, version.version).aliases
    return {"mlflow_run_id": run_id, "model_name": version.name, "model_version": str(version.version),
            "promoted": alias in aliases, "promotion_reason": runs[0].data.tags.get("gate.reason")}


def estimate(past: Sequence[tuple[int | None, float]], epochs: int | None, default_s: float) -> float:
    """Seconds for a job: the median past duration, or per epoch times ``epochs`` when known."""
    per_epoch = [took / n for n, took in past if n]
    if epochs and per_epoch:
        return round(statistics.median(per_epoch) * epochs, 1)
    if past:
        return round(statistics.median(took for _, took in past), 1)
    return float(default_s)
