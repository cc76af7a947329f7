"""image-to-audio's library: data, models, metrics, speech and the registry."""

import os

# Quiet start-up notices and no telemetry from anything the project runs (a user's own setting wins).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
