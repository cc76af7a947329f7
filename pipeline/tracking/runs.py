"""MLflow runs of the pipeline: one per decoder, opened by ``train`` and finished by ``evaluate``."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import keras
import mlflow

from pipeline.tracking import EXPERIMENT, JOB_ENV, JOB_TAG, tracking_uri
from pipeline.tracking.lineage import dvc_hashes, git_commit

log = logging.getLogger(__name__)
RUN_FILE = "run.json"


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params as ``a.b.c`` keys with string values (MLflow's format)."""
    flat = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = json.dumps(value) if isinstance(value, (list, tuple)) else str(value)
    return flat


def start(run_name: str, params: dict[str, Any], data_paths: list[str]) -> mlflow.ActiveRun:
    """A new run in the project's experiment, with params and lineage tags (git commit, DVC hashes).

    Started by a training job of the service (``$IMAGE_TO_AUDIO_JOB_ID`` set), the run is tagged with the job's
    id; ``evaluate`` resumes the same run, so the model version it registers is found from the job too.
    """
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(EXPERIMENT)
    job = {JOB_TAG: os.environ[JOB_ENV]} if os.environ.get(JOB_ENV) else {}
    run = mlflow.start_run(run_name=run_name, tags=job or None)
    mlflow.log_params(flatten(params))
    mlflow.set_tags({**git_commit(), **dvc_hashes(data_paths)})
    return run


def resume(folder: Path) -> mlflow.ActiveRun:
    """Reopen the run whose id ``train`` saved in ``folder``."""
    mlflow.set_tracking_uri(tracking_uri())
    run_id = json.loads((Path(folder) / RUN_FILE).read_text())["run_id"]
    return mlflow.start_run(run_id=run_id)


def log_params_again(params: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Log ``params`` on the active run; those it already holds with another value stay as first logged
    (MLflow params cannot change) and go to tags of the same name instead. Returns them: {key: (old, new)}."""
    run = mlflow.active_run()
    logged = mlflow.get_run(run.info.run_id).data.params
    flat = flatten(params)
    changed = {key: (logged[key], value) for key, value in flat.items() if key in logged and logged[key] != value}
    mlflow.log_params({key: value for key, value in flat.items() if key not in logged})
    if changed:
        mlflow.set_tags({key: new for key, (_, new) in changed.items()})
        log.warning("run %s was evaluated before with other settings; its params keep the first values, its tags "
                    "hold these: %s", run.info.run_id,
                    ", ".join(f"{key} {old} -> {new}" for key, (old, new) in changed.items()))
    return changed


class EpochMetrics(keras.callbacks.Callback):
    """Logs every epoch's metrics to the active MLflow run as they come."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        mlflow.log_metrics({k: float(v) for k, v in (logs or {}).items()}, step=epoch + 1)
