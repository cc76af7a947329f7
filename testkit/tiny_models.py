"""Real tiny captioners for the service's tests and bench: the pipeline's own code on a tiny embedded dataset.

``build_bundles`` does in one process what the stages do (download, preprocess, featurize, train, and
the ``Captioner`` bundle evaluate logs), at the sizes of ``TINY``: both decoders in about a minute on
2 cores, mostly TensorFlow tracing the first epochs (fewer epochs barely save time and the captions turn
to "a a of a"); the bench uses it. The tests take the same bundles from the session's tiny `dvc repro`
(``bundles_from_project``, tests/conftest.py). ``register`` logs a bundle again (``log_captioner``, as
evaluate does) whenever a test needs a new version, which costs about a second. When the stages change
how they build a model, follow them in ``build_bundles``.

    bundles = build_bundles(tmp / "tiny")                      # {"lstm": TinyModel, "transformer": TinyModel}
    bundles = bundles_from_project(project_path, tmp / "b")    # the same, from a project after `dvc repro`
    store = make_store(tmp / "mlflow")                         # an empty sqlite store, artifacts beside it
    register(store, "captioner-lstm", bundles["lstm"])         # a new version, aliased ``production``
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.models.pyfunc import CaptionerModel
from pipeline.names import DECODER_FILE, DECODERS, MODELS, registered_name
from pipeline.tracking import EXPERIMENT, PRODUCTION
from testkit.project import merge

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent

# params.yaml values for a pipeline that runs in seconds: 60 images, a 32-pixel CNN, 16-wide decoders, short captions.
# The DVC tests set them in their throw-away project; build_bundles merges them over params.yaml the same way.
# evaluate.float16 is on so that the models the session's pipeline logs carry the float16 export too.
TINY = {
    "download": {"synthetic": {"num_images": 60}},
    "preprocess": {"sequence_length": 16},  # 14 words, most captions whole: less to unroll, trace and compile
    "featurize": {"image_size": 32, "widths": [8, 16], "feature_dim": 16,
                  "fit": {"epochs": 2, "batch_size": 16, "patience": 2},
                  "head": {"head_dim": 16, "head_layers": 1, "head_captions": 2}},
    "train": {"fit": {"epochs": 15, "batch_size": 16, "learning_rate": 0.005, "patience": 15},
              "lstm": {"fit": {"epochs": 15}, "sizes": {"embed_dim": 16, "units": 32, "attention_units": 16}},
              "transformer": {"sizes": {"dim": 16, "heads": 2, "ff_dim": 32}}},
    "evaluate": {"beam_width": 2, "samples": 4, "gate_metric": "bleu1", "float16": True},
}


@dataclass(frozen=True)
class TinyModel:
    """A saved ``Captioner`` bundle and the ``info`` evaluate would log with it."""

    bundle: Path
    info: dict[str, str]


@dataclass(frozen=True)
class Store:
    """A temporary MLflow store: tracking and registry URI, artifact folder."""

    uri: str
    artifacts: Path


def tiny_params() -> dict[str, Any]:
    """The project's params.yaml with ``TINY`` merged over it."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    merge(params, copy.deepcopy(TINY))
    return params


def build_bundles(folder: Path, params: dict[str, Any] | None = None) -> dict[str, TinyModel]:
    """Train both decoders as the stages would, with ``params`` (default ``tiny_params()``); one bundle each."""
    from pipeline.data.preprocess import PreprocessConfig, preprocess
    from pipeline.data.synthetic import SyntheticConfig, generate
    from pipeline.models.captioner import Captioner, Decoding
    from pipeline.models.inputs import load_splits, load_tokenizer
    from pipeline.models.pyfunc import describe
    from pipeline.models.training import Fit, extract, make_encoder, train_decoder

    began, params = time.perf_counter(), params or tiny_params()
    folder = Path(folder)
    synthetic = params["download"]["synthetic"]
    generate(folder / "raw", SyntheticConfig(**{**synthetic, "splits": tuple(synthetic["splits"])}))
    preprocess(folder / "raw", PreprocessConfig.from_params(params["preprocess"]), folder / "processed",
               folder / "data_validation.json")
    tokenizer = load_tokenizer(folder / "processed")
    splits = load_splits(folder / "processed", tokenizer)

    encoder, _ = make_encoder(params["featurize"], splits, tokenizer)  # as stages/featurize.py
    grids = {split: extract(encoder, splits[split].paths) for split in ("train", "dev")}

    evaluate, models = params["evaluate"], {}
    decoding = Decoding.from_params(evaluate)
    for kind in params["train"]["decoders"]:  # as stages/train.py, then the bundle as stages/evaluate.py
        own = params["train"][kind]
        fit = Fit(**{**params["train"]["fit"], **own.get("fit", {})})
        decoder, _ = train_decoder(kind, grids, splits, tokenizer, fit, own["sizes"])
        Captioner(encoder, decoder, tokenizer.vocabulary, decoding).save(folder / kind)
        models[kind] = TinyModel(folder / kind, describe(kind, encoder.name, encoder.output_shape[1:],
                                                         decoding.beam_width))
    log.info("tiny captioners built in %.1f s", time.perf_counter() - began)
    return models


def bundles_from_project(project: Path, folder: Path) -> dict[str, TinyModel]:
    """The bundles evaluate logged for a project after `dvc repro` (judge and float16 export included): each
    decoder's production version, downloaded from the project's own MLflow store into ``folder``."""
    import cloudpickle
    import mlflow
    from mlflow import MlflowClient

    from pipeline.models.pyfunc import ARTIFACTS

    uri = f"sqlite:///{Path(project) / 'mlflow.db'}"
    client, models = MlflowClient(uri, uri), {}
    for kind in yaml.safe_load((project / "params.yaml").read_text())["train"]["decoders"]:
        version = client.get_model_version_by_alias(registered_name(kind), PRODUCTION)
        location = client.get_model_version_download_uri(version.name, version.version)
        if location.startswith("models:/"):  # a logged model's id: its artifacts lie elsewhere
            location = client.get_logged_model(location.removeprefix("models:/").strip("/")).artifact_location
        path = Path(mlflow.artifacts.download_artifacts(artifact_uri=location, tracking_uri=uri,
                                                        dst_path=str(Path(folder) / kind)))
        with open(path / "python_model.pkl", "rb") as f:  # the CaptionerModel logged, with its ``info``
            info = dict(cloudpickle.load(f).info)
        models[kind] = TinyModel(path / "artifacts" / ARTIFACTS["float32"], info)
    return models


def vocabulary_words(model: TinyModel) -> set[str]:
    """The words a bundle's decoder can say (its vocabulary without padding, [UNK] and the start/end tokens)."""
    from pipeline.data.preprocess import VOCABULARY_FILE
    from pipeline.data.vocabulary import Vocabulary

    vocabulary = Vocabulary.load(model.bundle / VOCABULARY_FILE)
    return set(vocabulary.tokens[2:]) - {vocabulary.start, vocabulary.end}


def damaged(model: TinyModel, folder: Path) -> TinyModel:
    """A copy of ``model`` whose decoder file is cut in half: it logs and registers, but cannot load."""
    bundle = Path(folder) / f"damaged-{model.bundle.name}"
    shutil.copytree(model.bundle, bundle, dirs_exist_ok=True)
    data = (bundle / DECODER_FILE).read_bytes()
    (bundle / DECODER_FILE).write_bytes(data[: len(data) // 2])
    return TinyModel(bundle, model.info)


class SilentCaptioner(CaptionerModel):
    """A real tiny captioner that answers nothing for a picture: a broken contract the service must refuse."""

    def caption_images(self, images: Sequence) -> list[str]:
        return []

    def describe_images(self, images: Sequence) -> list:
        return []

    def describe_arrays(self, images) -> list:
        return []


class EmptyCaptioner(CaptionerModel):
    """A real tiny captioner whose caption is empty yet in domain and sure: nothing a listener could use."""

    def describe_images(self, images: Sequence) -> list:
        from pipeline.models.honesty import Description

        return [Description("", True, 0.99, True) for _ in images]

    def describe_arrays(self, images) -> list:
        return self.describe_images(list(images))


def make_store(folder: Path) -> Store:
    """Create an empty sqlite store in ``folder`` with its own artifact root and the project's experiment."""
    from mlflow import MlflowClient

    folder.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{folder / 'mlflow.db'}", folder / "mlruns")
    MlflowClient(store.uri).create_experiment(EXPERIMENT, artifact_location=store.artifacts.as_uri())
    return store


def register(store: Store, name: str, model: TinyModel, *, promote: bool = True, test_bleu4: float | None = 0.1,
             python_model: type[CaptionerModel] = CaptionerModel, with_lite: bool = True) -> str:
    """Log ``model`` in a new run as a new version of ``name`` (aliased ``production`` if ``promote``); its version.

    ``test_bleu4`` is logged as evaluate logs it (None: no metric); ``python_model`` is the class logged
    (``SilentCaptioner`` or ``EmptyCaptioner`` for a model that misbehaves); the float32 TFLite export beside the
    bundle (``bundles_from_project``'s) is logged with it unless ``with_lite`` is false.
    """
    import mlflow
    from mlflow import MlflowClient

    from pipeline.models import pyfunc

    with _tracking(store.uri):
        mlflow.set_experiment(EXPERIMENT)
        with mlflow.start_run(run_name=model.info["decoder"]):
            if test_bleu4 is not None:
                mlflow.log_metric("test_bleu4", test_bleu4)
            lite = model.bundle.parent / pyfunc.ARTIFACTS["lite"]  # evaluate's float32 TFLite export, if beside
            logged = pyfunc.log_captioner(model.bundle, model.info, registered_name=name,
                                          lite=lite if lite.is_dir() and with_lite else None,
                                          python_model=python_model(model.info))
    version = str(logged.registered_model_version)
    if promote:
        MlflowClient(store.uri, store.uri).set_registered_model_alias(name, PRODUCTION, version)
    return version


def register_both(store: Store, models: dict[str, TinyModel], test_bleu4: dict[str, float] | None = None) -> Store:
    """Version 1 of both names in ``store``, each aliased ``production``."""
    for kind in DECODERS:
        name = registered_name(kind)
        register(store, name, models[kind], test_bleu4=(test_bleu4 or {}).get(name, 0.1))
    return store


def load_captioner(tracking_uri: str, name: str, version: str = PRODUCTION,
                   precision: str = "float32") -> CaptionerModel:
    """A registered version (or alias) loaded in this process as the service loads it (at ``precision``): the
    pyfunc, unwrapped."""
    import mlflow

    reference = f"models:/{name}@{version}" if not version.isdigit() else f"models:/{name}/{version}"
    with _tracking(tracking_uri):
        return mlflow.pyfunc.load_model(reference, model_config={"precision": precision}).unwrap_python_model()


class Captions:
    """What the production versions in a store caption pictures as, loaded in this process: the expected answers."""

    def __init__(self, tracking_uri: str, names: Sequence[str] = MODELS) -> None:
        self.models = {name: load_captioner(tracking_uri, name) for name in names}

    def __call__(self, data: bytes, model: str = MODELS[0]) -> str:
        """The caption of an encoded picture (any accepted format) by ``model``."""
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return self.models[model].caption_images([image])[0]

    def spoken(self, data: bytes, model: str = MODELS[0]) -> str:
        """What the service speaks (and the page announces) for an encoded picture by ``model``, in English."""
        from PIL import Image

        from pipeline.spoken import compose

        with Image.open(io.BytesIO(data)) as image:
            described = self.models[model].describe_images([image])[0]
        return compose(described.caption, described.in_domain, described.sure).text


@contextlib.contextmanager
def _tracking(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``uri``, then undo it (it also writes os.environ), so nothing leans on it."""
    import mlflow

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
