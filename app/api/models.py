"""``GET /api/models`` and the admin's ``POST /api/models/reload``."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from app.api.auth import require_admin
from app.services.db import iso

bp = Blueprint("models", __name__)


@bp.get("/models")
def list_models() -> Response:
    registry = current_app.extensions["models"]
    default, why = registry.default(current_app.config["DEFAULT_MODEL"])
    models = []
    for name in registry.names:
        served = registry.get(name)
        info = served.info if served else {}
        models.append({
            "id": name, "name": name, "default": name == default, "default_reason": why if name == default else None,
            "loaded": served is not None,
            "description": info.get("description"), "architecture": info.get("architecture"),
            "decoder": info.get("decoder"), "precision": served.precision if served else None,
            "runtime": served.runtime if served else None,
            "runtime_note": served.runtime_note if served else None,
            "batching": batching(served),
            "languages": list(served.languages) if served else [],
            "version": served.version if served else None,
            "aliases": sorted(served.aliases) if served else [],
            "test_bleu4": served.test_bleu4 if served else None,
            "loaded_at": iso(served.loaded_at) if served else None,
            "error": registry.errors.get(name),
        })
    return jsonify(models=models, reader=current_app.extensions["reader"].describe())


def batching(served) -> dict | None:
    """How the served version batches concurrent conversions, and the batches this worker has run with it."""
    if served is None:
        return None
    if served.batcher is None:
        return {"enabled": False}
    return {"enabled": True, "max_size": served.batcher.max_size, "window_ms": served.batcher.window_s * 1000,
            **served.batcher.stats()}


@bp.post("/models/reload")
@require_admin
def reload_models() -> Response:
    """Check the aliases now (in the worker that answers; the others check on their schedule)."""
    outcomes = current_app.extensions["models"].refresh()
    return jsonify(success=True, models={name: {"version": o.version, "changed": o.changed, "error": o.error}
                                         for name, o in outcomes.items()})
