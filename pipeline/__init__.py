"""image-to-audio's library: data, models, metrics, speech and the registry."""

import os

from pipeline.logs import quiet_tensorflow_import

# Quiet start-up notices and no telemetry from anything the project runs, this process and the ones it starts.
QUIET_ENV: dict[str, str] = {"TF_CPP_MIN_LOG_LEVEL": "2", "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1",
                             "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
for _name, _value in QUIET_ENV.items():
    os.environ.setdefault(_name, _value)  # a user's own setting wins
quiet_tensorflow_import()  # TensorFlow's native start-up notices, which no setting silences
