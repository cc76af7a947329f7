"""A quiet terminal: TensorFlow's and TFLite's native start-up notices are dropped from stderr, and nothing else is."""

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


def run_fresh(code: str) -> subprocess.CompletedProcess:
    """``code`` in a Python process of its own, from the repository root, without TF_CPP_MIN_LOG_LEVEL."""
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=True, env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})


def test_importing_tensorflow_after_the_package_prints_nothing():
    """In a process of its own, as a stage or the service starts: ``pipeline`` first, then Keras (so TensorFlow)."""
    done = run_fresh("import pipeline, keras; import tensorflow as tf; print(tf.__version__)")
    assert done.stdout.strip() and done.stderr == ""


def test_the_first_tflite_interpreter_of_a_process_prints_nothing():
    """TFLite prints its XNNPACK notice once per process, at the first allocation: dropped, the captions kept."""
    done = run_fresh("import pipeline\n"
                     "from pipeline.models.lite import LiteCaptioner\n"
                     "from tests.unit.test_lite import random_images, tiny_captioner\n"
                     "lite = LiteCaptioner.from_captioner(tiny_captioner('lstm', 1))\n"
                     "print(lite.caption_arrays(random_images(2)))\n")
    assert done.stdout.startswith("[") and "XNNPACK" not in done.stderr, done.stderr
