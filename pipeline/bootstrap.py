"""What `make run` does after set-up: build the pipeline's outputs when they are missing or stale."""

from __future__ import annotations

import logging
import subprocess
import sys

from pipeline.logs import setup_logging

log = logging.getLogger("bootstrap")


def main() -> int:
    """Run ``dvc repro`` (a no-op when everything is up to date) and say what happened."""
    setup_logging()
    log.info("checking the pipeline with `dvc repro` (only stale stages run)")
    done = subprocess.run([sys.executable, "-m", "dvc", "repro"], check=False)
    if done.returncode:
        log.error("the pipeline failed (exit %d); the stage's message above says what to fix", done.returncode)
        return done.returncode
    log.info("pipeline up to date: data/raw (dataset), data/processed (captions.csv, vocabulary.json), "
             "reports/data_validation.json; `dvc metrics show` lists the counts. "
             "The models and the web app come with the next stages of the project.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
