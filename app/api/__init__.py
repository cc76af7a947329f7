"""The JSON API: blueprints under ``/api``, plus the health checks at the root."""

from __future__ import annotations

from flask import Blueprint, Flask

from app.api import convert, health, history, models, openapi, train

api = Blueprint("api", __name__, url_prefix="/api")
for _module in (convert, models, train, history, openapi):
    api.register_blueprint(_module.bp)


def init_app(app: Flask) -> None:
    app.register_blueprint(api)
    app.register_blueprint(health.bp)
