"""Fixtures for the fuzz tests: an app of their own on the shared tiny Keras captioners.

The app is the shared store's (tests/conftest.py) with the service's test settings (testkit/service.py):
the quick training command, so no request ever starts a real ``dvc exp run``, and gTTS pointed at a closed
local port, so a request that asks for it falls back to espeak at once instead of waiting on the network.
It has its own instance folder, so the thousands of fuzzed requests leave the other tests' history alone.
tests/conftest.py's ``client``, ``convert`` and ``still_serving`` run on this app.
"""

from __future__ import annotations

import pytest
from flask import Flask

from app import create_app
from testkit.service import QUICK_TRAIN, settings

CLOSED_PORT = "http://127.0.0.1:9"  # the discard port: nothing listens, so a connection is refused at once


@pytest.fixture(scope="session")
def app(shared_store, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The fuzz tests' app: real tiny models, real espeak-ng, a training command that only prints."""
    app = create_app(settings(shared_store, SPEECH_GTTS_BASE_URL=CLOSED_PORT,
                              TRAIN_CWD=str(tmp_path_factory.mktemp("fuzz-train"))),
                     instance_path=tmp_path_factory.mktemp("fuzz-instance"))
    assert app.config["TRAIN_COMMAND"] == QUICK_TRAIN  # never the real `dvc exp run`
    return app
