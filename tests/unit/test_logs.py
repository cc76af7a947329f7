"""A quiet terminal: TensorFlow's native start-up notices are dropped from stderr, and nothing else is."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.logs import NATIVE_NOTICES, without_native_notices

ROOT = Path(__file__).resolve().parents[2]


def test_only_the_notices_are_dropped_and_the_rest_keeps_its_order(capfd):
    with without_native_notices():
        os.write(2, b"first\n")
        os.write(2, f"I0000 00:00:17 1 port.cc:153{NATIVE_NOTICES[1]} You may see ...\n".encode())
        os.write(2, f"{NATIVE_NOTICES[0]}\n".encode())
        os.write(2, b"second\n")
    assert capfd.readouterr().err == "first\nsecond\n"


def test_what_a_failing_block_wrote_is_kept(capfd):
    with pytest.raises(RuntimeError), without_native_notices():
        os.write(2, b"why it failed\n")
        raise RuntimeError("failed")
    assert capfd.readouterr().err == "why it failed\n"


def test_importing_tensorflow_after_the_package_prints_nothing():
    """In a process of its own, as a stage or the service starts: ``pipeline`` first, then Keras (so TensorFlow)."""
    done = subprocess.run([sys.executable, "-c", "import pipeline, keras; import tensorflow as tf; print(tf.__version__)"],
                          cwd=ROOT, env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() and done.stderr == ""
