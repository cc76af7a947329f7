"""image-to-audio's web service: captions pictures with the registry's models and speaks the captions.

    from app import create_app
    app = create_app()                          # defaults, instance config, environment
    app = create_app({"ADMIN_TOKEN": "t"}, instance_path=tmp_path)   # tests

Resources hang off ``app.extensions``: ``models`` (ModelRegistry), ``speaker``, ``reader``, ``history``,
``training``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

import pipeline  # noqa: F401  (quiet TensorFlow, no MLflow telemetry, no DVC analytics, before they load)
from app import api, errors, limits, owners, security, timing, web
from app.config import default_instance_path, load_config
from app.services import db, history, images, models, reading, speech, training


def create_app(test_config: Mapping[str, Any] | None = None, *, instance_path: str | os.PathLike[str] | None = None,
               start_models: bool = True) -> Flask:
    """Build the app; ``start_models=False`` leaves loading the models to ``start(app)``, e.g. after a fork."""
    instance = Path(instance_path or default_instance_path()).resolve()
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True)
    load_config(app.config, test_config)
    instance.mkdir(parents=True, exist_ok=True)

    errors.init_app(app)
    security.init_app(app)
    owners.init_app(app)
    db.init_app(app)
    images.init_app(app)
    history.init_app(app)
    speech.init_app(app)
    models.init_app(app)
    reading.init_app(app)
    training.init_app(app)
    api.init_app(app)
    web.init_app(app)
    limits.init_app(app)  # after the blueprints: it limits the views they registered

    if start_models:
        start(app)
    else:
        @app.before_request
        def _start_once() -> None:  # a safety net for servers without app/gunicorn_config.py's hook
            if not app.extensions["models"].started:
                start(app)
    timing.init_app(app)  # last: it times every request hook registered before it

    return app


def start(app: Flask) -> None:
    """Load the models (and start their watcher), the speech engine and, if set, the text reader in this process;
    idempotent."""
    app.extensions["models"].start()
    app.extensions["speaker"].warm_up()
    app.extensions["history"].start_sweeper(app.config["HISTORY_SWEEP_SECONDS"])
    if app.config["TEXT_WARM_UP"]:
        app.extensions["reader"].get()
