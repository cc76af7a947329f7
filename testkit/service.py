"""The service's settings under test: an admin token, a training command that only prints, espeak, no polling."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # testkit.tiny_models imports MLflow
    from testkit.tiny_models import Store

TOKEN = "test-admin-token-of-at-least-32-characters"
# A training command for the tests of the runner itself (the real `dvc exp run` is in tests/app/test_train.py)
QUICK_TRAIN = [sys.executable, "-c", "print(\"Running stage 'train':\")"]


def settings(store: Store | str, **config) -> dict:
    """The test settings of an app on ``store`` (a Store or a tracking URI)."""
    return {"TESTING": True, "MLFLOW_TRACKING_URI": getattr(store, "uri", store), "ADMIN_TOKEN": TOKEN,
            "MODEL_POLL_SECONDS": 0, "TRAIN_COMMAND": QUICK_TRAIN, "SPEECH_ENGINE": "espeak",
            "TEXT_WARM_UP": False, "RATE_LIMIT": "off", **config}


def wait_for(client, job_id, headers, timeout=90.0):
    """Poll a job until it is no longer running; return its last status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/train/{job_id}", headers=headers).json
        if status["status"] != "running":
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still running after {timeout} s: {status}")
