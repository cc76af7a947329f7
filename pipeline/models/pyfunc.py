"""The captioner as one self-contained MLflow pyfunc: a DataFrame of image bytes in; a table out with each
picture's ``caption``, ``in_domain`` (does it look like the training data) and ``confidence`` (0 to 1, the
estimated probability that the caption is right), as the bundle's judge says, and ``spoken``: the English
sentence to say (the caption, hedged, or that the picture cannot be described reliably).

A model may carry a float16 export beside the float32 bundle (artifact ``captioner_float16``); the model
config ``precision`` chooses which one loads: ``mlflow.pyfunc.load_model(uri, model_config={"precision":
"float16"})``, or ``MLFLOW_PYFUNC_INFERENCE_CONFIG='{"precision": "float16"}'`` for ``mlflow models serve``.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from pipeline.models import PRECISIONS

log = logging.getLogger(__name__)
DESCRIPTIONS = {
    "lstm": "CNN encoder with an LSTM decoder attending over the feature grid (Show, Attend and Tell); the default",
    "transformer": "CNN encoder, a Transformer encoder over the feature grid and a Transformer decoder",
}
LANGUAGES = ("en",)  # the languages the captions are in (the datasets' captions are English)
OUTPUTS = ("caption", "in_domain", "confidence", "spoken")
ARTIFACTS = {"float32": "captioner", "float16": "captioner_float16"}
SIGNATURE = ModelSignature(inputs=Schema([ColSpec("binary", "image")]),
                           outputs=Schema([ColSpec("string", "caption"), ColSpec("boolean", "in_domain"),
                                           ColSpec("double", "confidence"), ColSpec("string", "spoken")]))


class CaptionerModel(mlflow.pyfunc.PythonModel):
    """Wraps ``Captioner`` (or its float16 ``LiteCaptioner``); ``info`` describes the model."""

    def __init__(self, info: dict) -> None:
        self.info = info
        self.captioner = None
        self.precision: str | None = None

    def load_context(self, context) -> None:
        """Load the bundle of the configured precision and warm it up (the first request is then no slower)."""
        from pipeline.models.captioner import Captioner
        from pipeline.models.float16 import LiteCaptioner

        precision = (context.model_config or {}).get("precision", "float32")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        if ARTIFACTS[precision] not in context.artifacts:
            raise FileNotFoundError(f"this model has no {precision} export: it was logged with evaluate.float16 "
                                    f"off; serve it as float32 or log it again with evaluate.float16: true")
        bundle = Path(context.artifacts[ARTIFACTS[precision]])
        self.captioner = LiteCaptioner.load(bundle) if precision == "float16" else Captioner.load(bundle)
        self.captioner.warm_up()
        self.precision = precision

    def caption_images(self, images: list) -> list[str]:
        """Captions of PIL images of any size and mode."""
        return self.captioner.caption_images(images)

    def describe_images(self, images: list) -> list:
        """``Description``s (caption, in_domain, confidence) of PIL images (the service calls this directly)."""
        return self.captioner.describe_images(images)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """One row per row of the binary column ``image`` (base64 text is accepted too): ``OUTPUTS``."""
        blobs = [base64.b64decode(v) if isinstance(v, str) else bytes(v) for v in model_input["image"]]
        from pipeline.spoken import compose

        described = self.captioner.describe_bytes(blobs)
        return pd.DataFrame({"caption": [d.caption for d in described],
                             "in_domain": [d.in_domain for d in described],
                             "confidence": [d.confidence for d in described],
                             "spoken": [compose(d.caption, d.in_domain, d.sure).text for d in described]},
                            columns=list(OUTPUTS))


def describe(kind: str, encoder_name: str, grid_shape: tuple[int, ...], beam_width: int) -> dict[str, str]:
    """The ``info`` logged with a captioner: decoder, description, architecture, decoding (the service shows it)."""
    return {"decoder": kind, "description": DESCRIPTIONS[kind],
            "architecture": f"{encoder_name} {list(grid_shape)} grid + {kind} decoder",
            "decoding": f"beam {beam_width}" if beam_width > 1 else "greedy", "languages": ",".join(LANGUAGES)}


def log_captioner(bundle: Path, info: dict, registered_name: str | None = None, float16: Path | None = None,
                  python_model: CaptionerModel | None = None):
    """Log the bundle (and its float16 export, if given) as a pyfunc named ``model`` in the active run
    (with the ``pipeline`` package); it loads as float32 unless the model config asks for float16.
    ``python_model`` replaces ``CaptionerModel(info)`` (the tests log models that misbehave)."""
    import pipeline

    package = Path(pipeline.__file__).parent
    artifacts = {ARTIFACTS["float32"]: str(bundle)}
    if float16 is not None:
        artifacts[ARTIFACTS["float16"]] = str(float16)
    return mlflow.pyfunc.log_model(
        name="model", python_model=python_model or CaptionerModel(info), artifacts=artifacts, model_config={"precision": "float32"},
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
