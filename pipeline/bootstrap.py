"""What `make run` does before serving: build the models when no production version of the current data exists.

``make run DATA=flickr8k`` (``--data``) first switches params.yaml to that dataset (``DATASETS``).
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

from pipeline.logs import setup_logging
from pipeline.names import MODELS

log = logging.getLogger("bootstrap")
PARAMS_FILE = Path("params.yaml")
PROCESSED = Path("data/processed")  # the preprocess stage's output (dvc.yaml)
# What each dataset sets in params.yaml: the real photos need an encoder trained on real photos (ImageNet).
DATASETS = {
    "synthetic": {"download.source": "synthetic", "featurize.encoder": "cnn"},
    "flickr8k": {"download.source": "flickr8k", "featurize.encoder": "efficientnetb0", "featurize.weights": "imagenet"},
}


def use_dataset(name: str, params_file: Path = PARAMS_FILE) -> dict[str, tuple]:
    """Set ``DATASETS[name]`` in ``params_file``, comments kept; returns the changes {key: (old, new)}."""
    from ruamel.yaml import YAML

    yaml = YAML()
    params = yaml.load(params_file.read_text())
    changes = {}
    for key, value in DATASETS[name].items():
        *path, last = key.split(".")
        section = params
        for part in path:
            section = section[part]
        if section.get(last) != value:
            changes[key] = (section.get(last), value)
            section[last] = value
    if changes:
        with params_file.open("w") as out:
            yaml.dump(params, out)
    return changes


def stale_production(processed: Path = PROCESSED) -> list[str]:
    """The registered models with no ``production`` version, or one scored on another test set than the one
    in ``processed`` (when it exists): other data, so the pipeline's models are not yet registered."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from pipeline.data.preprocess import CAPTIONS_FILE, fingerprint_test_set
    from pipeline.tracking import PRODUCTION, TEST_SET_TAG, tracking_uri

    test_set = fingerprint_test_set(processed) if (processed / CAPTIONS_FILE).is_file() else None
    client, stale = MlflowClient(tracking_uri()), []
    for name in MODELS:
        try:
            version = client.get_model_version_by_alias(name, PRODUCTION)
        except MlflowException:
            stale.append(name)
            continue
        scored_on = client.get_run(version.run_id).data.tags.get(TEST_SET_TAG)  # untagged: an older version
        if test_set and scored_on and scored_on != test_set:
            stale.append(name)
    return stale


def _dvc(*args: str) -> int:
    log.info("running `dvc %s`", " ".join(args))
    return subprocess.run([sys.executable, "-m", "dvc", *args], check=False).returncode


def main(argv: list[str] | None = None) -> int:
    """Switch to ``--data`` if given; run the pipeline if a model has no production version of the current data."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", choices=sorted(DATASETS), help="the dataset to build on (sets params.yaml)")
    args = parser.parse_args(argv)
    setup_logging()
    changes = use_dataset(args.data) if args.data else {}
    for key, (old, new) in changes.items():
        log.info("params.yaml: %s %s -> %s", key, old, new)
    if changes and args.data == "flickr8k":
        log.info("Flickr8k: the first build downloads about 1.1 GB and takes about an hour on 2 cores "
                 "(README, The real Flickr8k)")
    missing = list(MODELS) if changes else stale_production()
    if not missing:
        log.info("production versions of %s exist: not rebuilding (run `make repro` to rebuild)", ", ".join(MODELS))
        return 0
    log.info("building %s with the pipeline (a few minutes on the embedded data)", ", ".join(missing))
    if _dvc("repro"):
        log.error("the pipeline failed; the stage's message above says what to fix")
        return 1
    if stale_production():  # outputs were up to date, but this tracking store has never seen them
        if _dvc("repro", "--force", "--single-item", "train@lstm", "train@transformer", "evaluate"):
            return 1
    still = stale_production()
    if still:
        log.error("still no production version of %s after the pipeline ran", ", ".join(still))
        return 1
    log.info("models ready; `dvc metrics show` lists their scores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
