"""What the bench scripts share: the models to serve, test pictures, percentiles, process memory."""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.names import MODELS  # noqa: E402  (re-exported for the benches)

if TYPE_CHECKING:  # it imports TensorFlow: only the benches that load a model do
    from pipeline.models.captioner import Captioner

# A project's folders after `dvc repro`, as dvc.yaml's stages write them.
ENCODER_FOLDER, DECODERS_FOLDER = Path("models/encoder"), Path("models")  # featurize's; train's, one per decoder
PROCESSED, FEATURES = Path("data/processed"), Path("data/features")  # preprocess's; featurize's
COLOURS = [(0, 0, 0), (255, 255, 255), (128, 128, 128), (220, 30, 30), (30, 160, 60), (30, 60, 220),
           (240, 220, 40), (245, 140, 30), (130, 50, 160), (245, 160, 190), (120, 75, 40)]


def pictures(count: int = 24) -> list[tuple[str, bytes]]:
    """Distinct 320x240 photos-to-be: JPEG and PNG in plain colours, with a stripe each."""
    out = []
    for i in range(count):
        colour = COLOURS[i % len(COLOURS)]
        image = Image.new("RGB", (320, 240), colour)
        image.paste((i * 10 % 256, 128, 255 - i * 10 % 256), (0, i * 8, 320, i * 8 + 6))
        fmt = "JPEG" if i % 3 else "PNG"
        buffer = io.BytesIO()
        image.save(buffer, fmt)
        out.append((f"p{i}.{fmt.lower()}", buffer.getvalue()))
    return out


def reference_seconds(steps: int = 300) -> float:
    """Seconds for a fixed workload shaped like the pipeline's (a small CNN trained on fixed random 64-px
    pictures, batch 64, ``steps`` steps after 3 untimed ones), the same on every machine and day: figures measured
    beside it compare across runs as ratios to it."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).random((64, 64, 64, 3), dtype=np.float32)
    labels = np.arange(64) % 10
    model = keras.Sequential([keras.Input((64, 64, 3)), *[keras.layers.Conv2D(w, 3, 2, "same", activation="relu")
                                                         for w in (32, 48, 96, 128)],
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    for _ in range(3):
        model.train_on_batch(images, labels)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(images, labels)
    return time.perf_counter() - start


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` prints them."""
    import os

    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def median_ms(call, repeats: int) -> float:
    """Median milliseconds of ``call()`` over ``repeats`` runs (after one untimed warm-up)."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def percentile(samples: list[float], q: int) -> float:
    """The q-th percentile (1..99) of ``samples``."""
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if len(samples) > 1 else samples[0]


def project_store() -> str | None:
    """The service's default store (the project's mlflow.db) if both models have a production version there."""
    from pipeline.tracking import PRODUCTION

    database = ROOT / "mlflow.db"
    if not database.is_file():  # asking MLflow would create an empty one
        return None
    uri = f"sqlite:///{database}"  # absolute, so the check and the served store agree from any working folder
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(uri, uri)
    try:
        for name in MODELS:
            client.get_model_version_by_alias(name, PRODUCTION)
    except MlflowException:
        return None
    return uri


def tiny_store(folder: Path) -> str:
    """A temporary store with the tests' real tiny captioners (trained now, about a minute)."""
    from testkit.tiny_models import build_bundles, make_store, register_both

    return register_both(make_store(folder / "mlflow"), build_bundles(folder / "tiny")).uri


def resolve_store(tracking_uri: str | None, folder: Path) -> tuple[str, str]:
    """The store to serve from and how to describe it: the given one, the project's, else tiny models."""
    if tracking_uri:
        return tracking_uri, f"production models from {tracking_uri}"
    project = project_store()
    if project:
        return project, "the project's production models (mlflow.db of the last `dvc repro`)"
    return tiny_store(folder), "the tests' tiny models (testkit/tiny_models.py)"


def project_arguments(description: str, single: int, single_help: str) -> tuple[argparse.Namespace, dict, int, float]:
    """``--project`` (default: this repository) and ``--single`` parsed; the project's params, and evaluate's
    beam width and length penalty."""
    import yaml

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument("--single", type=int, default=single, help=single_help)
    args = parser.parse_args()
    from pipeline.models.captioner import Decoding  # after parsing: --help needs no TensorFlow

    args.project = args.project.resolve()
    params = yaml.safe_load((args.project / "params.yaml").read_text())
    decoding = Decoding.from_params(params["evaluate"])
    return args, params, decoding.beam_width, decoding.length_penalty


def load_captioner(project: Path, decoder: str, evaluate: dict, beam_width: int | None = None) -> Captioner:
    """``load_trained`` on a project's outputs: its encoder, ``decoder``'s trained folder and its vocabulary,
    searching as params.yaml's ``evaluate`` section says, or with ``beam_width`` instead."""
    from pipeline.models.captioner import load_trained

    search = evaluate if beam_width is None else {**evaluate, "beam_width": beam_width}
    return load_trained(project / ENCODER_FOLDER, project / DECODERS_FOLDER / decoder, project / PROCESSED, search)


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children, in MB."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def listener_pid(port: int) -> int | None:
    """The top process of the server listening on 127.0.0.1:``port`` (its parent if that is the same program)."""
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            process = psutil.Process(conn.pid)
            parent = process.parent()
            while parent is not None and parent.cmdline()[:2] == process.cmdline()[:2]:
                process, parent = parent, parent.parent()
            return process.pid
    return None


_local = threading.local()


def session() -> requests.Session:
    """This thread's HTTP session (kept-alive connections, one per client thread)."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def load(call: Callable[[int], tuple[bool, str]], clients: int, requests_total: int) -> dict:
    """Run ``call(n)`` for n in 0..requests_total-1 over ``clients`` threads; latencies, errors, throughput."""

    def client(index: int) -> tuple[list[float], list[str]]:
        latencies, errors = [], []
        for n in range(index, requests_total, clients):
            start = time.perf_counter()
            try:
                ok, detail = call(n)
            except Exception as exc:  # a refused or dropped connection counts as an error, the run goes on
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            if ok:
                latencies.append((time.perf_counter() - start) * 1000)
            else:
                errors.append(f"#{n}: {detail[:200]}")
        return latencies, errors

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        parts = list(pool.map(client, range(clients)))
    elapsed = time.perf_counter() - start
    latencies = [x for p in parts for x in p[0]]
    return {"latencies": latencies, "errors": [x for p in parts for x in p[1]], "ok": len(latencies),
            "per_s": len(latencies) / elapsed if elapsed else 0.0,
            "p50": percentile(latencies, 50) if latencies else float("nan"),
            "p95": percentile(latencies, 95) if latencies else float("nan")}
