"""One logging set-up for stages and command lines."""

from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

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


# What TensorFlow's native code prints while it loads, before any setting of its logging applies
# (TF_CPP_MIN_LOG_LEVEL does not reach it): dropped from stderr, every other line kept.
NATIVE_NOTICES = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
                  "] oneDNN custom operations are on.")


@contextmanager
def without_native_notices(notices: tuple[str, ...] = NATIVE_NOTICES) -> Iterator[None]:
    """Run the block with file descriptor 2 sent to a temporary file, then write back to stderr every line
    of it that holds none of ``notices`` (also when the block raises)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not any(notice in line for notice in notices))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds nothing itself; the first time ``tensorflow`` is imported, wherever from, its loading runs in
    ``without_native_notices``."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: later lookups go straight to the real finders
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module

            def exec_module(module):
                with without_native_notices():
                    load(module)

            spec.loader.exec_module = exec_module
        return spec


def quiet_tensorflow_import() -> None:
    """Drop ``NATIVE_NOTICES`` from the first ``import tensorflow`` of this process (if it has not happened yet)."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())
