"""``POST /api/train`` and ``GET /api/train/<job_id>``: admin only."""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from app.api.auth import require_admin
from app.errors import ApiError
from app.services.train_params import InvalidOverride, check_overrides

bp = Blueprint("train", __name__)
JOB_ID = re.compile(r"[0-9a-f]{32}")


@bp.post("/train")
@require_admin
def start_training() -> tuple[Response, int, dict[str, str]]:
    body = None
    if request.get_data():
        body = request.get_json(force=True, silent=True)
        if body is None:
            raise InvalidOverride("the body is not valid JSON: send an object such as {\"epochs\": 3}")
    overrides = check_overrides(body)
    runner = current_app.extensions["training"]
    estimate = runner.estimate(overrides)
    job_id = runner.submit(overrides)
    location = url_for(".training_status", job_id=job_id)
    return jsonify(success=True, job_id=job_id, status="running", estimated_time=estimate, status_url=location), \
        202, {"Location": location}


@bp.get("/train/<job_id>")
@require_admin
def training_status(job_id: str) -> Response:
    status = current_app.extensions["training"].status(job_id) if JOB_ID.fullmatch(job_id) else None
    if status is None:
        raise ApiError("no such training job", status=404, code="job_not_found")
    return jsonify(status)
