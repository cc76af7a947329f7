"""STAND-IN captioning models for the service's tests and bench, until the real Keras ones exist.

Each is a real MLflow pyfunc with the contract the app codes against (see ``app/services/models.py``):
``unwrap_python_model()`` gives an object with ``caption_images(list[PIL.Image]) -> list[str]`` and an
``info`` dict (``architecture``, ``description``, ``decoder``). It captions by the image's mean colour
("a red image"), so tests can predict its answer. Replace it with the real tiny Keras pipeline later;
the app never imports this module.

    store = register_standins(tmp_path)          # both names, version 1, alias ``production``
    register_standin(store.uri, "captioner-lstm", promote=True)   # version 2, promoted
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
from mlflow import MlflowClient
from PIL import Image

from app.services.train_progress import JOB_TAG
from pipeline.tracking import EXPERIMENT, PRODUCTION

NAMES = ("captioner-lstm", "captioner-transformer")
ALIAS = PRODUCTION
# Explicit requirements keep log_model fast (no inference subprocess); the stand-in needs only these.
REQUIREMENTS = ["mlflow==3.17.2", "pillow==13.0.0", "numpy==2.4.6"]
COLOURS = {
    "black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128), "red": (220, 30, 30),
    "green": (30, 160, 60), "blue": (30, 60, 220), "yellow": (240, 220, 40), "orange": (245, 140, 30),
    "purple": (130, 50, 160), "pink": (245, 160, 190), "brown": (120, 75, 40),
}  # fmt: skip


def colour_name(image: Image.Image) -> str:
    """The palette colour nearest to the image's mean colour."""
    mean = np.asarray(image.convert("RGB"), dtype=np.float32).reshape(-1, 3).mean(axis=0)
    return min(COLOURS, key=lambda name: float(np.sum((mean - COLOURS[name]) ** 2)))


class StandInCaptioner(mlflow.pyfunc.PythonModel):
    """STAND-IN: captions an image as 'a <mean colour> image'; fulfils the service's model contract."""

    def __init__(self, decoder: str, note: str = "") -> None:
        self.info = {
            "architecture": f"stand-in: mean colour to words ({decoder} slot)",
            "description": f"Stand-in for captioner-{decoder}: names the mean colour. {note}".strip(),
            "decoder": decoder,
        }

    def caption_images(self, images: Sequence[Image.Image]) -> list[str]:
        """Caption each image."""
        return [f"a {colour_name(image)} image" for image in images]

    def predict(self, context, model_input: list[str], params: dict | None = None) -> list[str]:
        """Caption base64-encoded image files (the pyfunc path; the service calls ``caption_images``)."""
        return self.caption_images([Image.open(io.BytesIO(base64.b64decode(item))) for item in model_input])


class BrokenCaptioner(StandInCaptioner):
    """STAND-IN that registers fine but fails to load, to test that the service keeps the old version."""

    def load_context(self, context) -> None:
        raise RuntimeError("stand-in model broken on purpose")


class SilentCaptioner(StandInCaptioner):
    """STAND-IN that loads but answers nothing, which the service must refuse to serve."""

    def caption_images(self, images: Sequence[Image.Image]) -> list[str]:
        return []


@dataclass(frozen=True)
class Store:
    """A temporary MLflow store: tracking and registry URI, artifact folder."""

    uri: str
    artifacts: Path


def make_store(folder: Path) -> Store:
    """Create an empty sqlite store in ``folder`` with its own artifact root."""
    folder.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{folder / 'mlflow.db'}", folder / "mlruns")
    client = MlflowClient(store.uri)
    client.create_experiment(EXPERIMENT, artifact_location=store.artifacts.as_uri())
    return store


def register_standin(
    uri: str,
    name: str,
    *,
    promote: bool = True,
    model: mlflow.pyfunc.PythonModel | None = None,
    bleu4: float | None = 0.1,
    job_id: str | None = None,
) -> str:
    """Log a stand-in as a new version of ``name`` (alias ``production`` if ``promote``); return the version."""
    decoder = name.rsplit("-", 1)[-1]
    with _tracking(uri):
        mlflow.set_experiment(EXPERIMENT)
        tags = {JOB_TAG: job_id} if job_id else None
        with mlflow.start_run(run_name=f"standin-{decoder}", tags=tags):
            if bleu4 is not None:
                mlflow.log_metric("test_bleu4", bleu4)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=model or StandInCaptioner(decoder),
                pip_requirements=REQUIREMENTS,
                registered_model_name=name,
            )
    version = str(info.registered_model_version)
    if promote:
        MlflowClient(uri, uri).set_registered_model_alias(name, ALIAS, version)
    return version


@contextlib.contextmanager
def _tracking(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``uri``, then undo it (it also writes os.environ), so nothing leans on it."""
    saved = {key: os.environ.get(key) for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def register_standins(folder: Path, bleu4: dict[str, float] | None = None) -> Store:
    """A fresh store in ``folder`` with version 1 of both names, each aliased ``production``."""
    store = make_store(folder)
    for name in NAMES:
        register_standin(store.uri, name, bleu4=(bleu4 or {}).get(name, 0.1))
    return store


def env_for(store: Store) -> dict[str, str]:
    """Environment variables that point a process (gunicorn, a training script) at ``store``."""
    return {**os.environ, "MLFLOW_TRACKING_URI": store.uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
