"""Fixtures for the service: a real MLflow store with stand-in models, apps built on it, a client."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from tests.app.pictures import picture
from tests.app.standin_models import Store, register_standins

TOKEN = "test-admin-token"
STANDIN_TRAIN = Path(__file__).with_name("standin_train.py")


@pytest.fixture(scope="session")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """One store for the tests that only read it: version 1 of each name, aliased ``production``."""
    return register_standins(tmp_path_factory.mktemp("mlflow"), bleu4={"captioner-lstm": 0.11,
                                                                       "captioner-transformer": 0.14})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A store of the test's own, for tests that register or promote versions."""
    return register_standins(tmp_path / "mlflow")


@pytest.fixture
def make_app(tmp_path: Path, shared_store: Store) -> Callable[..., Flask]:
    """Build an app on the shared store (or ``store=``) with an instance folder in tmp_path."""

    def make(store: Store | None = None, instance: Path | None = None, **config) -> Flask:
        settings = {"TESTING": True, "MLFLOW_TRACKING_URI": (store or shared_store).uri, "ADMIN_TOKEN": TOKEN,
                    "MODEL_POLL_SECONDS": 0, "TRAIN_COMMAND": [sys.executable, str(STANDIN_TRAIN)],
                    "SPEECH_ENGINE": "espeak", **config}  # fmt: skip
        return create_app(settings, instance_path=instance or tmp_path / "instance")

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


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
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}
