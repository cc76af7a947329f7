"""STAND-IN for `dvc exp run` in the service's tests, until the train stage exists.

Takes the same ``-S param=value`` arguments, prints progress the way DVC and Keras do, and
registers a new stand-in version of ``captioner-<train.decoder>`` in ``$MLFLOW_TRACKING_URI``
tagged with ``$IMAGE_TO_AUDIO_JOB_ID``, then promotes it: what the real train stage should do.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.services.training import JOB_ENV  # noqa: E402
from tests.app.standin_models import register_standin  # noqa: E402


def main(argv: list[str]) -> int:
    params = dict(value.split("=", 1) for flag, value in zip(argv[::2], argv[1::2]) if flag == "-S")
    epochs = int(params.get("train.epochs", 2))
    print("Running stage 'train':", flush=True)
    for epoch in range(1, epochs + 1):
        print(f"Epoch {epoch}/{epochs}", flush=True)
        print(f"4/4 - 0s - loss: {1 / epoch:.4f}", flush=True)
    decoder = params.get("train.decoder", "lstm")
    version = register_standin(os.environ["MLFLOW_TRACKING_URI"], f"captioner-{decoder}", promote=True,
                               bleu4=0.2, job_id=os.environ.get(JOB_ENV))  # fmt: skip
    print(f"Running stage 'evaluate':\nregistered captioner-{decoder} version {version}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
