"""One logging set-up for stages and command lines."""

from __future__ import annotations

import logging
import os

_NOISY = ("great_expectations", "matplotlib", "absl", "h5py", "PIL", "urllib3", "git", "alembic")


def setup_logging(level: str | None = None) -> None:
    """Log to stderr with time and module; ``LOG_LEVEL`` overrides the default INFO."""
    logging.basicConfig(
        level=(level or os.environ.get("LOG_LEVEL", "INFO")).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
