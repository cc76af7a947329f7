"""How TensorFlow runs on this machine: thread pools and mixed precision, from ``params.yaml``'s ``runtime``.

The defaults suit any laptop. On Apple Silicon with ``tensorflow-metal`` the GPU does the
training, and ``mixed_precision: true`` (float16 compute, float32 weights) roughly halves its
memory traffic; on a CPU it makes training slower, so it stays off here. Thread counts of 0 let
TensorFlow choose (one per core); set them lower to keep a laptop responsive while it trains.
"""

from __future__ import annotations

import logging
from typing import Any

from pipeline.errors import ParamsError

log = logging.getLogger(__name__)

DEFAULTS = {"mixed_precision": False, "intra_op_threads": 0, "inter_op_threads": 0}


def configure(settings: dict[str, Any] | None) -> dict[str, Any]:
    """Apply the ``runtime`` settings before TensorFlow runs anything; return them with defaults filled in."""
    import keras
    import tensorflow as tf

    settings = {**DEFAULTS, **(settings or {})}
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise ParamsError(f"runtime has unknown key(s) {unknown}; expected {sorted(DEFAULTS)}")
    for key in ("intra_op_threads", "inter_op_threads"):
        if not isinstance(settings[key], int) or settings[key] < 0:
            raise ParamsError(f"runtime.{key} must be a whole number >= 0 (0: one per core), not {settings[key]!r}")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(settings["intra_op_threads"])
        tf.config.threading.set_inter_op_parallelism_threads(settings["inter_op_threads"])
    except RuntimeError:  # TensorFlow already started its pools (e.g. a second call in one process)
        log.warning("thread counts not applied: TensorFlow was already running")
    policy = "mixed_float16" if settings["mixed_precision"] else "float32"
    keras.mixed_precision.set_global_policy(policy)
    devices = [d.device_type for d in tf.config.list_physical_devices()]
    log.info("runtime: %s policy, threads intra %s inter %s, devices %s", policy, settings["intra_op_threads"] or
             "auto", settings["inter_op_threads"] or "auto", ", ".join(devices))
    return settings
