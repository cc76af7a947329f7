"""``GET /api/openapi.json``: the OpenAPI 3.1 description of this API, written out by hand."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from app.api.history import MAX_PAGE
from app.services.images import ACCEPTED_TEXT
from app.services.train_params import OVERRIDES
from pipeline.models import PRECISIONS, RUNTIMES
from pipeline.speech.languages import LANGUAGES
from pipeline.speech.settings import ENGINES, MIME_TYPES
from pipeline.spoken import spoken_languages

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}
MODEL = {"$ref": "#/components/schemas/Model"}
ADMIN = [{"bearer": []}]
RESULT_ID = {"name": "result_id", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
EMPTY_IS_DEFAULT = "left out or empty: the service's default"
SPEECH_CHOICE = f"in any case; {EMPTY_IS_DEFAULT}"


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {400: "Bad input", 401: "No bearer token",
               403: "Admin endpoints off, a wrong token, or sent from another site's page", 404: "Not found",
               409: "A job is already running", 413: "Upload over the size limit", 415: "Not an accepted image type",
               429: "Too many requests from this client (RATE_LIMIT): see Retry-After",
               503: "Not available now: a model or speech, or for training the queue (TRAIN_BROKER_URL)"}
    return {str(status): _json(ERROR, reasons[status]) for status in statuses}


def _file(mime: str, description: str) -> dict[str, Any]:
    return {"get": {"summary": description, "parameters": [RESULT_ID],
                    "responses": {"200": {"description": description, "content": {mime: {}}}, **_errors(404)}}}


def _override_schema() -> dict[str, Any]:
    properties = {}
    for field, override in OVERRIDES.items():
        where = f"params.yaml: {override.param}"
        if override.per_decoder:
            where += f" and {override.per_decoder} for each decoder, or only the latter with decoder"
        schema: dict[str, Any] = {"type": {int: "integer", float: "number", str: "string"}[override.kind],
                                  "description": where}
        if override.choices:
            schema["enum"] = list(override.choices)
        if override.low is not None:
            schema.update(minimum=override.low, maximum=override.high)
        properties[field] = schema
    scoped = [field for field, override in OVERRIDES.items() if override.per_decoder]
    return {"type": "object", "additionalProperties": False, "properties": properties,
            # decoder only says which decoder the fit settings go to, so it comes with one of them (check_overrides)
            "dependentSchemas": {"decoder": {"anyOf": [{"required": [field]} for field in scoped]}}}


def build_spec(config: dict[str, Any]) -> dict[str, Any]:
    """The document for this app's settings (model names, default, size limit)."""
    result = {"$ref": "#/components/schemas/Result"}
    convert_form = {"type": "object", "required": ["image"], "additionalProperties": False, "properties": {
        "image": {"type": "string", "format": "binary",
                  "description": f"{ACCEPTED_TEXT}; at most {config['MAX_CONTENT_LENGTH']} bytes"},
        "model": {"type": "string", "enum": config["MODEL_NAMES"],
                  **({"default": config["DEFAULT_MODEL"]} if config["DEFAULT_MODEL"] in config["MODEL_NAMES"] else {}),
                  "description": f"{EMPTY_IS_DEFAULT} (GET /api/models marks it, and says why)"},
        "lang": {"type": "string", "enum": [c for c in LANGUAGES if c in spoken_languages()],
                 "description": f"a language the model describes pictures in (GET /api/models); {EMPTY_IS_DEFAULT}"},
        "engine": {"type": "string", "enum": list(ENGINES), "description": SPEECH_CHOICE},
        "text": {"type": "string", "enum": ["on", "off"], "default": config["TEXT_DEFAULT"],
                 "description": f"read the text in the picture aloud after the caption; {EMPTY_IS_DEFAULT}"},
        "format": {"type": "string", "enum": list(MIME_TYPES), "description": SPEECH_CHOICE}}}
    paths = {
        "/api/convert": {"post": {
            "summary": "Caption a picture and speak the caption; the result is kept, the caller's (owner cookie)",
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": convert_form}}},
            "responses": {"200": _json(result), **_errors(400, 403, 413, 415, 429, 503)}}},
        "/api/models": {"get": {"summary": "The models served", "responses": {"200": _json(
            {"type": "object", "properties": {"models": {"type": "array", "items": MODEL}, "reader": {
                "type": "object", "description": "the text reader: name, package version, model files, settings"}}})}}},
        "/api/models/reload": {"post": {"summary": "Check the aliases now and load new versions", "security": ADMIN,
                                        "responses": {"200": _json({"type": "object"}), **_errors(401, 403, 429)}}},
        "/api/train": {"post": {
            "summary": "Start a training job (dvc exp run) with checked overrides", "security": ADMIN,
            "requestBody": {"content": {"application/json": {"schema": _override_schema()}}},
            "responses": {"202": _json({"type": "object", "properties": {
                "job_id": {"type": "string"}, "status": {"type": "string"}, "estimated_time": {"type": "number"}}},
                "Started"), **_errors(400, 401, 403, 409, 429, 503)}}},
        "/api/train/{job_id}": {"get": {
            "summary": "A job's status, stage, epoch, log tail, MLflow run, model version and promotion",
            "security": ADMIN, "parameters": [JOB_ID],
            "responses": {"200": _json({"type": "object"}), **_errors(401, 403, 404, 429, 503)}}},
        "/api/history": {"get": {
            "summary": "The caller's kept results (its owner cookie), newest first; everyone's with the admin token",
            "parameters": [
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                                                          "default": 1}},
                {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1,
                 "maximum": config["HISTORY_MAX_PAGE_SIZE"], "default": config["HISTORY_PAGE_SIZE"]}}],
            "responses": {"200": _json({"type": "object", "properties": {
                "items": {"type": "array", "items": result}, "page": {"type": "integer"},
                "per_page": {"type": "integer"}, "total": {"type": "integer"}, "pages": {"type": "integer"}}}),
                **_errors(400, 403, 429)}}},
        "/api/history/{result_id}": {"delete": {
            "summary": "Delete one of the caller's results and its files (anyone's with the admin token); another "
                       "owner's answers 404", "parameters": [RESULT_ID],
            "responses": {"200": _json({"type": "object"}), **_errors(403, 404, 429)}}},
        "/api/results/{result_id}/image": _file("image/jpeg", "The picture, upright, as JPEG"),
        "/api/results/{result_id}/audio": _file("audio/mpeg", "The spoken caption (audio/mpeg or audio/wav)"),
        "/api/results/{result_id}/caption": _file("text/plain", "What was spoken, the model's guess, the text read"),
        "/api/results/{result_id}/zip": _file("application/zip", "Picture, audio and caption in one ZIP"),
        "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": _json({"type": "object"})}}},
        "/healthz": {"get": {"summary": "The process answers", "responses": {"200": _json({"type": "object"})}}},
        "/readyz": {"get": {"summary": "Every model is loaded",
                            "responses": {"200": _json({"type": "object"}), "503": _json(ERROR, "Not ready")}}},
    }
    string, nullable = {"type": "string"}, {"type": ["string", "null"]}
    schemas = {
        "Error": {"type": "object", "required": ["success", "error"], "properties": {
            "success": {"const": False}, "error": {"type": "object", "required": ["code", "message"],
                                                   "properties": {"code": string, "message": string}}}},
        "Result": {"type": "object", "properties": {
            "id": string, "created_at": string,
            "caption": {"type": "string", "description": "the model's own sentence (a guess: see spoken)"},
            "spoken": {"type": "string", "description": "exactly what was spoken: the caption, hedged "
                       "('Probably ...'), or that the picture cannot be described reliably"},
            "in_domain": {"type": ["boolean", "null"], "description": "whether the picture looks like the model's "
                          "training pictures (null: kept before models said so)"},
            "confidence": {"type": ["number", "null"], "minimum": 0, "maximum": 1, "description":
                           "estimated probability that the caption states the picture's content correctly"},
            "text": {"type": "string", "description": "text read in the picture (empty: none, or not asked)"},
            "image_url": string, "audio_url": string,
            "caption_url": string, "zip_url": string, "processing_time": {"type": "number"},
            "model": {"type": "object", "properties": {"name": string, "version": string}},
            "speech": {"type": "object", "properties": {"engine": string, "lang": string, "format": string}}}},
        "Model": {"type": "object", "properties": {
            "id": string, "name": string, "description": nullable, "architecture": nullable, "decoder": nullable,
            "precision": {"enum": [*PRECISIONS, None], "description": "the weights served (MODEL_PRECISION)"},
            "runtime": {"enum": [*RUNTIMES, None], "description": "what runs it: keras, or its TFLite export "
                        "(MODEL_RUNTIME)"},
            "runtime_note": {"type": ["string", "null"], "description": "why it runs on keras though MODEL_RUNTIME "
                             "asked for lite"},
            "batching": {"type": ["object", "null"], "description": "dynamic batching in the worker that answered: "
                         "enabled, max_size, window_ms, batches and images since it loaded, and batches per size",
                         "properties": {"enabled": {"type": "boolean"}, "max_size": {"type": "integer"},
                                        "window_ms": {"type": "number"}, "batches": {"type": "integer"},
                                        "images": {"type": "integer"},
                                        "sizes": {"type": "object", "additionalProperties": {"type": "integer"}}}},
            "languages": {"type": "array", "items": string, "description": "the languages it describes pictures in"},
            "version": nullable, "aliases": {"type": "array", "items": string},
            "test_bleu4": {"type": ["number", "null"]}, "default": {"type": "boolean"}, "default_reason": nullable,
            "loaded": {"type": "boolean"}, "error": nullable}},
    }
    return {"openapi": "3.1.0", "info": {"title": "image-to-audio", "version": "1.0.0",
                                         "description": "Captions pictures and speaks the captions."},
            "paths": paths, "components": {"schemas": schemas, "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"}}}}


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(build_spec(current_app.config))
