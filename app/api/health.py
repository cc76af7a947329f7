"""``/healthz`` (the process answers) and ``/readyz`` (every model is loaded)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from app.errors import error_response

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response | tuple[Response, int]:
    registry = current_app.extensions["models"]
    versions = {name: (model.version if (model := registry.get(name)) else None) for name in registry.names}
    if registry.ready():
        return jsonify(status="ready", models=versions)
    missing = [name for name, version in versions.items() if version is None]
    reasons = "; ".join(registry.errors.get(name, f"{name}: loading") for name in missing)
    return error_response(503, "not_ready", f"models not loaded: {', '.join(missing)} ({reasons})")
