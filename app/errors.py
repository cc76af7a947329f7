"""Errors as JSON: ``{"success": false, "error": {"code", "message"}}`` with the right status, never a trace."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, SecurityError

log = logging.getLogger(__name__)
UNTRUSTED_HOST = "this service does not answer to that host name: use one of the names it is configured with"


class ApiError(Exception):
    """An error a client can cause or should know about, answered as it is."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message, self.headers = message, headers or {}
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


def error_response(status: int, code: str, message: str) -> tuple[Response, int]:
    """The one shape of every error answer."""
    return jsonify(success=False, error={"code": code, "message": message}), status


def _code_of(exc: HTTPException) -> str:
    """``Not Found`` -> ``not_found``."""
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def handle_api_error(exc: ApiError) -> tuple[Response, int]:
    response, status = error_response(exc.status, exc.code, exc.message)
    response.headers.update(exc.headers)
    return response, status


def handle_http_error(exc: HTTPException) -> tuple[Response, int] | HTTPException:
    if exc.code is None:  # a routing redirect, not an error
        return exc
    if isinstance(exc, RequestEntityTooLarge):
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        message = f"the upload is larger than the limit of {limit:,} bytes ({limit / 2**20:.3g} MB): send less"
        response, status = error_response(413, "payload_too_large", message)
    elif isinstance(exc, SecurityError):  # Werkzeug's description repeats the Host header
        response, status = error_response(400, "untrusted_host", UNTRUSTED_HOST)
    else:
        response, status = error_response(exc.code, _code_of(exc), exc.description or exc.name)
    if exc.code == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response, status


def handle_unexpected(exc: Exception) -> tuple[Response, int]:
    log.exception("unhandled error")
    return error_response(500, "internal_error", "the server failed to answer this request; it has been logged")


def init_app(app: Flask) -> None:
    """Answer every error, including routing ones and crashes, with the JSON shape."""
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
