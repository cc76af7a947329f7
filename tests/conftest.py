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
                         test_bleu4={"captioner-lstm": 0.11, "captioner-transformer": 0.14})  # fmt: skip


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
    """POST a picture (a red PNG unless given) to /api/convert with extra form fields."""

    def post(data: bytes | None = None, filename: str = "photo.png", **fields):
        form = {"image": (io.BytesIO(picture() if data is None else data), filename), **fields}
        return client.post("/api/convert", data=form, content_type="multipart/form-data")

    return post


@pytest.fixture
def still_serving(client: FlaskClient, convert: Callable[..., object], caption_of) -> Callable[[], None]:
    """A check, after a bad request, that the shared app still answers and converts as its model does in-process."""

    def check() -> None:
        assert client.get("/healthz").status_code == 200
        answer = convert(picture("PNG"))
        assert answer.status_code == 200 and answer.json["caption"] == caption_of(picture("PNG"))

    return check
