"""MLflow tracking and registry: where runs are recorded and which model version serves."""

import os

EXPERIMENT = "image-to-audio"
PRODUCTION = "production"
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # at the repository root, artifacts under ./mlruns


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set, else the project's own SQLite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
