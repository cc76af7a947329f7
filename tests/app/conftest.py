"""Fixtures for the service: real tiny captioners in a real MLflow store, apps built on it, a client.

Loading both models costs an app about 4 s, so the tests that need no state of their own share one
app (``app``, and tests/conftest.py's ``client`` and ``convert`` on it); the others build theirs with ``make_app``.
The stores and the expected captions (``caption_of``) come from tests/conftest.py, the settings from testkit/service.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from testkit.service import TOKEN, settings
from testkit.tiny_models import Store, make_store, register_both


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
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}
