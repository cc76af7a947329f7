"""What `make run` does before serving: build the models when no production version exists yet."""

from __future__ import annotations

import logging
import subprocess
import sys

from pipeline.logs import setup_logging

log = logging.getLogger("bootstrap")
MODELS = ("captioner-lstm", "captioner-transformer")


def missing_production() -> list[str]:
    """The registered models that have no ``production`` version in the tracking store."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from pipeline.tracking import PRODUCTION, tracking_uri

    client, missing = MlflowClient(tracking_uri()), []
    for name in MODELS:
        try:
            client.get_model_version_by_alias(name, PRODUCTION)
        except MlflowException:
            missing.append(name)
    return missing


def _dvc(*args: str) -> int:
    log.info("running `dvc %s`", " ".join(args))
    return subprocess.run([sys.executable, "-m", "dvc", *args], check=False).returncode


def main() -> int:
    """Run the pipeline if a model lacks a production version; a no-op otherwise."""
    setup_logging()
    missing = missing_production()
    if not missing:
        log.info("production versions of %s exist: not rebuilding (run `make repro` to rebuild)", ", ".join(MODELS))
        return 0
    log.info("no production version of %s yet: building with the pipeline (a few minutes)", ", ".join(missing))
    if _dvc("repro"):
        log.error("the pipeline failed; the stage's message above says what to fix")
        return 1
    if missing_production():  # outputs were up to date, but this tracking store has never seen them
        if _dvc("repro", "--force", "--single-item", "train@lstm", "train@transformer", "evaluate"):
            return 1
    still = missing_production()
    if still:
        log.error("still no production version of %s after the pipeline ran", ", ".join(still))
        return 1
    log.info("models ready; `dvc metrics show` lists their scores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
