"""Fixtures for the service: real tiny captioners in a real MLflow store, apps built on it, a client.

Loading both models costs an app about 4 s, so the tests that need no state of their own share one
app (``app``, ``client``, ``convert``); the others build theirs with ``make_app``. The stores and the
expected captions (``caption_of``) come from tests/conftest.py.
"""

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
from tests.tiny_models import Store, make_store, register_both

TOKEN = "test-admin-token-of-at-least-32-characters"
# A training command for the tests of the runner itself (the real `dvc exp run` is in test_train.py)
QUICK_TRAIN = [sys.executable, "-c", "print(\"Running stage 'train':\")"]


def settings(store: Store | str, **config) -> dict:
    """The test settings of an app on ``store`` (a Store or a tracking URI)."""
    return {"TESTING": True, "MLFLOW_TRACKING_URI": getattr(store, "uri", store), "ADMIN_TOKEN": TOKEN,
            "MODEL_POLL_SECONDS": 0, "TRAIN_COMMAND": QUICK_TRAIN, "SPEECH_ENGINE": "espeak",
            "TEXT_WARM_UP": False, "RATE_LIMIT": "off", **config}  # fmt: skip


@pytest.fixture
def store(tmp_path: Path, tiny_models) -> Store:
    """A store of the test's own, for tests that register or promote versions."""
    return register_both(make_store(tmp_path / "mlflow"), tiny_models)


@pytest.fixture
def make_app(tmp_path: Path, shared_store: Store) -> Callable[..., Flask]:
    """Build an app on the shared store (or ``store=``) with an instance folder in tmp_path."""

    def make(store: Store | str | None = None, instance: Path | None = None, **config) -> Flask:
        return create_app(settings(store or shared_store, **config), instance_path=instance or tmp_path / "instance")

    return make


@pytest.fixture(scope="session")
def app(shared_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """One app on the shared store for the tests that need no state of their own (its history grows)."""
    return create_app(settings(shared_store), instance_path=tmp_path_factory.mktemp("shared-instance"))


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


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}
