"""The captioner as one self-contained MLflow pyfunc: a DataFrame of image bytes in, captions out."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

log = logging.getLogger(__name__)
DESCRIPTIONS = {
    "lstm": "CNN encoder with an LSTM decoder attending over the feature grid (Show, Attend and Tell); the default",
    "transformer": "CNN encoder, a Transformer encoder over the feature grid and a Transformer decoder; experimental",
}
SIGNATURE = ModelSignature(inputs=Schema([ColSpec("binary", "image")]), outputs=Schema([ColSpec("string")]))


class CaptionerModel(mlflow.pyfunc.PythonModel):
    """Wraps ``Captioner``; ``info`` describes the model (architecture, decoder, description)."""

    def __init__(self, info: dict) -> None:
        self.info = info
        self.captioner = None

    def load_context(self, context) -> None:
        """Load the bundle and warm it up, so the first request is not seconds slower than the rest."""
        from pipeline.models.captioner import Captioner

        self.captioner = Captioner.load(Path(context.artifacts["captioner"]))
        self.captioner.warm_up()

    def caption_images(self, images: list) -> list[str]:
        """Captions of PIL images of any size and mode (the service calls this directly)."""
        return self.captioner.caption_images(images)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> list[str]:
        """One caption per row of the binary column ``image`` (base64 text is accepted too)."""
        blobs = [base64.b64decode(v) if isinstance(v, str) else bytes(v) for v in model_input["image"]]
        return self.captioner.caption_bytes(blobs)


def describe(kind: str, encoder_name: str, grid_shape: tuple[int, ...], beam_width: int) -> dict[str, str]:
    """The ``info`` logged with a captioner: decoder, description, architecture, decoding (the service shows it)."""
    return {"decoder": kind, "description": DESCRIPTIONS[kind],
            "architecture": f"{encoder_name} {list(grid_shape)} grid + {kind} decoder",
            "decoding": f"beam {beam_width}" if beam_width > 1 else "greedy"}


def log_captioner(bundle: Path, info: dict, registered_name: str | None = None):
    """Log the bundle as a pyfunc named ``model`` in the active run (with the ``pipeline`` package)."""
    import pipeline

    package = Path(pipeline.__file__).parent
    return mlflow.pyfunc.log_model(
        name="model", python_model=CaptionerModel(info), artifacts={"captioner": str(bundle)},
        code_paths=[str(package)], signature=SIGNATURE, registered_model_name=registered_name,
        pip_requirements=_requirements())


def _requirements() -> list[str]:
    """What the model needs to run, pinned to the versions in use (explicit: inferring costs ~13 s)."""
    from importlib.metadata import PackageNotFoundError, version

    names = ["tensorflow-cpu", "tensorflow", "keras", "mlflow", "pandas", "numpy", "pillow", "pyyaml"]
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return pins
