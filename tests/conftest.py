"""Fixtures shared by the test kinds: a throw-away copy of the project for real DVC runs, real tiny
captioners in a temporary MLflow store for the service's and the browser's tests (built once per session),
and the service's test client on the ``app`` each folder defines."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from testkit.pictures import picture
from testkit.project import Project, copy_project, make_project
from tests.http_fixtures import http_server_fixture  # noqa: F401  (registers the `http_server` fixture)

if TYPE_CHECKING:  # testkit.tiny_models imports MLflow: only the fixtures that need it load it
    from flask import Flask
    from flask.testing import FlaskClient

    from testkit.tiny_models import Captions, Store, TinyModel


TESTS = Path(__file__).resolve().parent

# The markers of pytest.ini, given here rather than in each file; `make test-fast` runs what none of them marks.
# scaleout: the tests in tests/scaleout/, which start PostgreSQL, moto and an MLflow server (testkit/scaleout.py).
# pipeline: a test whose fixtures run `dvc repro` or a training job (the session's tiny pipeline and the
# models, stores and apps built from it, or a fresh ``project``), and the tests that run one themselves.
PIPELINE_FIXTURES = {"tiny_pipeline", "trained_project", "project", "served_pipeline"}
PIPELINE_TESTS = ("integration/test_flickr8k_pipeline.py",)  # make_project and `dvc repro` in the test
# slow: more than about 10 s on 2 cores (as `pytest --durations=0` measures it), or fitting a Keras model or
# converting one to TFLite. Both lists name a folder (``name/``), a module or a ``module::test``.
SLOW_TESTS = (
    "scaleout/",  # PostgreSQL, moto and an MLflow server started (about 30 s), a tiny repro against them
    "faults/",  # real servers and training jobs started, killed and restarted: 5 to 50 s each
    "app/test_gunicorn.py",
    "app/test_train.py::test_a_real_training_job_ends_in_a_new_served_model_version",
    "app/test_train.py::test_one_job_at_a_time",
    "browser/test_admin.py::test_a_training_run_is_launched_and_followed_to_its_new_model",
    "integration/test_dvc_pipeline.py::test_repro_builds_then_does_nothing_then_reruns_only_what_a_param_touches",
    "integration/test_flickr8k_download.py::test_official_layout_end_to_end_with_dvc_and_a_resumed_download",
    "integration/test_flickr8k_pipeline.py",
    "integration/test_model_pipeline.py",  # its shared repro, and four of its five tests at 10 to 70 s
    "notebooks/test_notebooks.py::test_model_prototyping",
    "unit/test_lite.py::test_the_export_captions_as_float32_does",  # TFLite conversions
    "unit/test_lite.py::test_threads_share_one_export_and_any_batch_size",
    "unit/test_runtime.py::test_mixed_precision_computes_in_float16_and_keeps_float32_logits",  # Keras fit
)


def listed(item: pytest.Item, names: tuple[str, ...]) -> bool:
    """Whether ``item`` is in a folder (``name/``), a module or a ``module::test`` of ``names``."""
    if not item.path.is_relative_to(TESTS):
        return False
    module = item.path.relative_to(TESTS).as_posix()
    return any(module.startswith(name) if name.endswith("/") else name in (module, f"{module}::{item.originalname}")
               for name in names)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test ``pipeline``, ``browser``, ``scaleout`` and ``slow`` as the lists above say."""
    for name in (*PIPELINE_TESTS, *SLOW_TESTS):  # a renamed or removed test must not leave a stale name behind
        module, _, test = name.partition("::")
        if not (TESTS / module).exists() or test and f"def {test}(" not in (TESTS / module).read_text():
            raise pytest.UsageError(f"tests/conftest.py lists {name!r}, which is no longer there: update the list")
    for item in items:
        if PIPELINE_FIXTURES & set(getattr(item, "fixturenames", ())) or listed(item, PIPELINE_TESTS):
            item.add_marker(pytest.mark.pipeline)
        if listed(item, ("browser/",)):
            item.add_marker(pytest.mark.browser)
        if listed(item, ("scaleout/",)):
            item.add_marker(pytest.mark.scaleout)
        if listed(item, SLOW_TESTS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A fresh copy of the pipeline, a git and DVC repository, with a small embedded dataset."""
    return make_project(tmp_path)


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The tiny pipeline (``TINY``) after one `dvc repro`, committed, with its store in ``mlflow.db``: never
    change it; ``copy_project`` it. ``first_repro`` is that run's output."""
    from testkit.tiny_models import TINY

    project = make_project(tmp_path_factory.mktemp("tiny-pipeline"))
    project.set_params(**TINY)
    project.env.pop("MLFLOW_TRACKING_URI", None)  # the default: sqlite:///mlflow.db in the project
    project.first_repro = project.dvc("repro")
    project.run("git", "add", "-A")
    project.run("git", "commit", "-qm", "tiny pipeline")
    return project


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory, tiny_pipeline: Project) -> dict[str, TinyModel]:
    """Both decoders the tiny `dvc repro` trained, as the bundles evaluate logs (once per session)."""
    from testkit.tiny_models import bundles_from_project

    return bundles_from_project(tiny_pipeline.path, tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def shared_store(tmp_path_factory: pytest.TempPathFactory, tiny_models: dict[str, TinyModel]) -> Store:
    """A store for the tests that only read it: version 1 of each name (test BLEU-4 0.11 and 0.14), ``production``."""
    from testkit.tiny_models import make_store, register_both

    return register_both(make_store(tmp_path_factory.mktemp("mlflow")), tiny_models,
                         test_bleu4={"captioner-lstm": 0.11, "captioner-transformer": 0.14})


@pytest.fixture(scope="session")
def caption_of(shared_store: Store) -> Captions:
    """``caption_of(picture_bytes, model)``: the caption the shared store's production version gives in this process."""
    from testkit.tiny_models import Captions

    return Captions(shared_store.uri)


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory, tiny_pipeline: Project) -> Project:
    """The tiny pipeline with untrained decoders, committed; its MLflow store is ``env["MLFLOW_TRACKING_URI"]``.

    A copy of ``tiny_pipeline`` whose decoders were trained again for one epoch with learning rate 0 (they
    learned nothing; the LSTM without XLA, evaluate without the float16 export, to save the jobs' time) into
    a store of its own, so a training job that lets one of them learn
    (``{"decoder": ..., "learning_rate": 0.005, "epochs": 15}``) surely beats its version in production.
    """
    project = copy_project(tiny_pipeline, tmp_path_factory.mktemp("trained"), store=False)
    project.set_params(train={"fit": {"epochs": 1}, "lstm": {"fit": {"epochs": 1, "learning_rate": 0.0, "xla": False}},
                              "transformer": {"fit": {"learning_rate": 0.0}}},
                       evaluate={"float16": False})  # its jobs need neither: the session's repro covers both
    project.env["MLFLOW_TRACKING_URI"] = f"sqlite:///{project.path / 'mlflow.db'}"
    project.dvc("repro")
    project.run("git", "add", "-A")
    project.run("git", "commit", "-qm", "untrained decoders")
    return project


# The service's client on the ``app`` of the test's folder (tests/app/ and tests/fuzz/ each define theirs).
@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def convert(client: FlaskClient) -> Callable[..., object]:
    """POST a picture (a red PNG unless given) to /api/convert with extra form fields (and request headers)."""

    def post(data: bytes | None = None, filename: str = "photo.png", headers: dict | None = None, **fields):
        form = {"image": (io.BytesIO(picture() if data is None else data), filename), **fields}
        return client.post("/api/convert", data=form, content_type="multipart/form-data", headers=headers)

    return post


@pytest.fixture
def still_serving(client: FlaskClient, convert: Callable[..., object], caption_of) -> Callable[[], None]:
    """A check, after a bad request, that the shared app still answers and converts as its model does in-process."""

    def check() -> None:
        assert client.get("/healthz").status_code == 200
        answer = convert(picture("PNG"))
        assert answer.status_code == 200 and answer.json["caption"] == caption_of(picture("PNG"))

    return check
