"""The captioner as one self-contained MLflow pyfunc: a DataFrame of image bytes in; a table out with each
picture's ``caption``, ``in_domain`` (does it look like the training data) and ``confidence`` (0 to 1, the
estimated probability that the caption is right), as the bundle's judge says, and ``spoken``: the English
sentence to say (the caption, hedged, or that the picture cannot be described reliably).

Beside the Keras bundle (artifact ``captioner``) a model carries its float32 TFLite export (``captioner_lite``,
exact: ``pipeline.models.lite``) and may carry a float16 one (``captioner_float16``). The model config chooses:

- ``runtime``: ``keras`` (the default) or ``lite``: the float32 TFLite export, faster and described the same.
  It is checked at load on the examples logged with it and on its test-split agreement; on any difference,
  or when the model has no such export (logged before it existed), Keras is loaded instead and the log says
  why (``runtime`` and ``fallback_reason`` tell which runs);
- ``precision``: ``float32`` (the default) or ``float16``: the float16 export, on TFLite whatever ``runtime``.

``mlflow.pyfunc.load_model(uri, model_config={"runtime": "lite"})``, or for ``mlflow models serve``
``MLFLOW_PYFUNC_INFERENCE_CONFIG='{"runtime": "lite"}'`` (it serves Keras without it).
"""

from __future__ import annotations

import base64
import logging
import warnings
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from pipeline.models import PRECISIONS, RUNTIMES

log = logging.getLogger(__name__)
DESCRIPTIONS = {
    "lstm": "CNN encoder with an LSTM decoder attending over the feature grid (Show, Attend and Tell)",
    "transformer": "CNN encoder, a Transformer encoder over the feature grid and a Transformer decoder",
}
LANGUAGES = ("en",)  # the languages the captions are in (the datasets' captions are English)
OUTPUTS = ("caption", "in_domain", "confidence", "spoken")
ARTIFACTS = {"float32": "captioner", "float16": "captioner_float16", "lite": "captioner_lite"}
SIGNATURE = ModelSignature(inputs=Schema([ColSpec("binary", "image")]),
                           outputs=Schema([ColSpec("string", "caption"), ColSpec("boolean", "in_domain"),
                                           ColSpec("double", "confidence"), ColSpec("string", "spoken")]))


class CaptionerModel(mlflow.pyfunc.PythonModel):
    """Wraps ``Captioner`` or a ``LiteCaptioner`` export; ``info`` describes the model."""

    def __init__(self, info: dict) -> None:
        self.info = info
        self.captioner = None
        self.precision: str | None = None
        self.runtime: str | None = None
        self.fallback_reason: str | None = None

    def load_context(self, context) -> None:
        """Load the bundle the model config asks for (falling back to Keras from an inexact float32 export) and
        warm it up (the first request is then no slower)."""
        from pipeline.models.captioner import Captioner
        from pipeline.models.lite import LiteCaptioner, check_examples

        config = context.model_config or {}
        precision, runtime = config.get("precision", "float32"), config.get("runtime", "keras")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
        artifacts = context.artifacts
        self.captioner, self.fallback_reason = None, None
        if precision == "float16":
            if ARTIFACTS["float16"] not in artifacts:
                raise FileNotFoundError("this model has no float16 export: it was logged with evaluate.float16 "
                                        "off; serve it as float32 or log it again with evaluate.float16: true")
            self.captioner = LiteCaptioner.load(Path(artifacts[ARTIFACTS["float16"]]), "float16")
        elif runtime == "lite" and ARTIFACTS["lite"] not in artifacts:
            self.fallback_reason = "it was logged without a float32 TFLite export"
        elif runtime == "lite":
            try:
                lite = LiteCaptioner.load(Path(artifacts[ARTIFACTS["lite"]]))
                self.fallback_reason = check_examples(lite, Path(artifacts[ARTIFACTS["lite"]]))
            except Exception as exc:  # a damaged export or examples file: Keras still serves
                lite, self.fallback_reason = None, f"the export could not be read ({type(exc).__name__}: {exc})"
            self.captioner = lite if self.fallback_reason is None else None
        if self.captioner is None:
            if self.fallback_reason:
                log.warning("%s: serving Keras rather than the TFLite export: %s", self.info.get("decoder"),
                            self.fallback_reason)
            self.captioner = Captioner.load(Path(artifacts[ARTIFACTS["float32"]]))
        self.captioner.warm_up()
        self.precision = self.captioner.precision
        self.runtime = "keras" if isinstance(self.captioner, Captioner) else "lite"

    def prepare(self, image):
        """A PIL image of any size and mode as the captioner's uint8 input square (see ``describe_arrays``)."""
        return self.captioner.prepare(image)

    def describe_arrays(self, images) -> list:
        """``Description``s of images ``prepare`` made, stacked [B, S, S, 3] (the service batches with it)."""
        return self.captioner.describe_arrays(images)

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
                  lite: Path | None = None, python_model: CaptionerModel | None = None):
    """Log the bundle (and its float32 TFLite and float16 exports, if given) as a pyfunc named ``model`` in the
    active run (with the ``pipeline`` package); it loads the Keras bundle unless the model config asks otherwise.
    ``python_model`` replaces ``CaptionerModel(info)`` (the tests log models that misbehave)."""
    import pipeline

    package = Path(pipeline.__file__).parent
    artifacts = {ARTIFACTS["float32"]: str(bundle)}
    for key, folder in (("float16", float16), ("lite", lite)):
        if folder is not None:
            artifacts[ARTIFACTS[key]] = str(folder)
    notices, pickled = logging.getLogger("mlflow.pyfunc"), _PickledModelNotice()
    notices.addFilter(pickled)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*An input example was not provided", category=UserWarning)
            return mlflow.pyfunc.log_model(
                name="model", python_model=python_model or CaptionerModel(info), artifacts=artifacts,
                model_config={"precision": "float32", "runtime": "keras"}, code_paths=[str(package)],
                signature=SIGNATURE, registered_model_name=registered_name, pip_requirements=_requirements())
    finally:
        notices.removeFilter(pickled)


class _PickledModelNotice(logging.Filter):
    """Drops MLflow's notice, at every ``log_model`` of a Python object, that the object is pickled. The object
    is this package's ``CaptionerModel``, logged with the package's code. (MLflow's other notice there, on a
    missing input example, is dropped too: the signature is explicit.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passing a Python object as `python_model`")


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
