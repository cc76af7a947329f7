"""History and results: ``/api/history``, ``/api/results/<id>/{image,audio,caption,zip}``.

The history lists and deletes only the caller's own results (its owner cookie, app/owners.py); with the admin
token, everyone's, and those kept before owners. A result's files are reachable by anyone holding their
(unguessable) links, which nothing lists across owners.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file, url_for

from app.api.auth import is_admin, takes_admin
from app.errors import ApiError
from app.services.db import iso
from app.services.history import History, Result

bp = Blueprint("history", __name__)
PRIVATE = "private, no-store"  # a result's files: for its link holder's eyes, kept by no cache
MAX_PAGE = 10**6  # the highest page number a client may ask for (the document says so too)


class ResultNotFound(ApiError):
    status, code = 404, "result_not_found"

    def __init__(self) -> None:
        super().__init__("no such result: it was deleted, expired or never existed")


def result_json(result: Result) -> dict[str, Any]:
    """A result as the API shows it (the answer of a conversion and an entry of the history)."""
    urls = {f"{kind}_url": url_for(f"api.history.result_{kind}", result_id=result.id)
            for kind in ("image", "audio", "caption", "zip")}
    return {"id": result.id, "created_at": iso(result.created_at), "caption": result.caption,
            "spoken": result.spoken, "in_domain": result.in_domain, "confidence": result.confidence,
            "text": result.text, **urls,
            "processing_time": result.processing_time,
            "model": {"name": result.model_name, "version": result.model_version},
            "speech": {"engine": result.engine, "lang": result.lang, "format": result.format}}


def _history() -> History:
    return current_app.extensions["history"]


def _owner() -> str | None:
    """Whose results this request may list and delete: the caller's, or everyone's (None) for the admin."""
    return None if is_admin() else g.owner


def _result(result_id: str) -> Result:
    result = _history().get(result_id)
    if result is None:
        raise ResultNotFound()
    return result


def _positive_int(name: str, default: int, high: int) -> int:
    try:
        raw = request.args.get(name)
    except UnicodeDecodeError:  # Werkzeug decodes the query string strictly, and gunicorn passes on any bytes
        raise ApiError("the query string is not UTF-8: percent-encode it", code="invalid_query") from None
    if raw is None:
        return default
    digits = raw.lstrip("0")  # int() refuses more than 4,300 digits, leading zeros included
    if not (raw.isascii() and raw.isdigit()) or len(digits) > len(str(high)) or not 1 <= int(digits or 0) <= high:
        raise ApiError(f"{name} must be an integer from 1 to {high}", code="invalid_query")  # also "²"
    return int(digits)


@bp.get("/history")
@takes_admin
def history_page() -> Response:
    config = current_app.config
    page = _positive_int("page", 1, MAX_PAGE)
    per_page = _positive_int("per_page", config["HISTORY_PAGE_SIZE"], config["HISTORY_MAX_PAGE_SIZE"])
    results, total = _history().page(page, per_page, _owner())
    response = jsonify(items=[result_json(r) for r in results], page=page, per_page=per_page, total=total,
                       pages=-(-total // per_page))
    response.headers["Cache-Control"] = PRIVATE
    return response


@bp.delete("/history/<result_id>")
@takes_admin
def delete_result(result_id: str) -> Response:
    """Delete the caller's result; another owner's answers 404, as one that does not exist."""
    if not _history().delete(result_id, _owner()):
        raise ResultNotFound()
    return jsonify(success=True, id=result_id)


def _send(result_id: str, kind: str) -> Response:
    result = _result(result_id)
    try:
        data = _history().read(result, kind)
    except FileNotFoundError:  # deleted between the look-up and now
        raise ResultNotFound() from None
    # a result's files never change: its id and the kind name them for caches and range requests
    response = send_file(io.BytesIO(data), mimetype=result.mime_type(kind), conditional=True,
                         etag=f"{result.id}-{kind}", last_modified=result.created_at,
                         download_name=f"{result.id}-{result.file_name(kind)}")
    response.headers["Cache-Control"] = PRIVATE
    return response


@bp.get("/results/<result_id>/image")
def result_image(result_id: str) -> Response:
    return _send(result_id, "image")


@bp.get("/results/<result_id>/audio")
def result_audio(result_id: str) -> Response:
    return _send(result_id, "audio")


@bp.get("/results/<result_id>/caption")
def result_caption(result_id: str) -> Response:
    return _send(result_id, "caption")


@bp.get("/results/<result_id>/zip")
def result_zip(result_id: str) -> Response:
    result = _result(result_id)
    try:
        data = _history().zip_bytes(result)
    except FileNotFoundError:
        raise ResultNotFound() from None
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="result-{result.id}.zip"', "Cache-Control": PRIVATE})
