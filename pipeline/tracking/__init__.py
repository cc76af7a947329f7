"""MLflow tracking and registry: where runs are recorded and which model version serves."""

import os

EXPERIMENT = "image-to-audio"
PRODUCTION = "production"
TEST_SET_TAG = "evaluate.test_set"  # sha256 of the test split a version was scored on (the gate compares alike)
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # at the repository root, artifacts under ./mlruns
# A training job of the service sets JOB_ENV for its `dvc exp run`; the runs it starts carry the id as JOB_TAG,
# so the service can find the run and model version the job made.
JOB_ENV = "IMAGE_TO_AUDIO_JOB_ID"
JOB_TAG = "image_to_audio.job_id"


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set, else the project's own SQLite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
