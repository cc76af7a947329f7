"""Schemathesis over the app's own OpenAPI document, in-process through the WSGI app: every operation, fuzzed.

Each operation gets requests that fit the document (positive) and requests that break it (negative), from
its examples, a coverage pass over its bounds and enums, and random generation; all of Schemathesis' checks
run on every answer: no 5xx, the status, content type and body the document declares, schema-valid requests
accepted, invalid ones refused, and the admin endpoints refusing a request once its token is taken away.

Schemathesis' pytest integration collects the operations when the module is imported, before any fixture
exists, so the document is built from the test settings here, and a test checks that the running app serves
this very document. (``schemathesis.pytest.from_fixture`` would load it from the app, but Schemathesis
4.32.5 sets ``Node._nodeid``, which pytest 9 no longer has.)
"""

from __future__ import annotations

import time
from pathlib import Path

import schemathesis
from flask import Config

from app.api.openapi import build_spec
from app.config import load_config
from testkit.pictures import BLUE, picture
from testkit.service import QUICK_TRAIN, TOKEN, settings

GENERATION = {"max-examples": 60, "deterministic": True, "database": "none", "mode": "all"}


def schemathesis_config(**extra) -> schemathesis.Config:
    """Deterministic generation (the same requests on every run, nothing remembered between runs), all of
    Schemathesis' checks, no stateful phase (the document has no links); ``extra`` top-level settings."""
    return schemathesis.Config.from_dict({"seed": 20240607, "generation": GENERATION,
                                          "phases": {"stateful": {"enabled": False}}, **extra})


# POST /api/convert takes an empty form field as the default (``lang=`` is English), as HTML forms send an empty
# choice; the document says so in words, since listing "" among the choices would make it a model name. So the
# check that requests outside the document are refused is off there; test_uploads.py's
# test_any_file_name_and_form_fields checks that every other value is refused, naming the field.
EMPTY_IS_DEFAULT = [{"include-path": "/api/convert", "checks": {"negative_data_rejection": {"enabled": False}}}]

VALID_AUTHORIZATION = f"Bearer {TOKEN}"


def served_document() -> dict:
    """The document the app built with the fuzz tests' settings serves (checked by the first test)."""
    config = Config(str(Path(__file__).parent / "no-instance"))  # no instance config.py there: the settings alone
    load_config(config, settings("sqlite://"))
    return build_spec(config)


DOCUMENT = served_document()
ADMIN_ONLY = {(method.upper(), path) for path, item in DOCUMENT["paths"].items()
              for method, operation in item.items() if operation.get("security")}
# The token goes with every request; Schemathesis makes no Authorization header of its own
with_token = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis_config(
    operations=EMPTY_IS_DEFAULT, generation={**GENERATION, "with-security-parameters": False}))
# The admin endpoints only, with Schemathesis' own Authorization header (random bearer tokens) or none
without_token = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis_config()).include(
    func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in ADMIN_ONLY)


def test_the_fuzzed_document_is_the_served_one(app, client):
    assert client.get("/api/openapi.json").json == DOCUMENT
    assert ADMIN_ONLY == {("POST", "/api/train"), ("GET", "/api/train/{job_id}"), ("POST", "/api/models/reload")}
    assert app.config["TRAIN_COMMAND"] == QUICK_TRAIN  # POST /api/train starts a command that only prints


def call(case, app, **kwargs):
    """Send ``case`` to ``app`` and run every check on the answer.

    POST /api/convert gets a real picture when the request fits the document: a schema cannot say "a
    decodable image", so schema-valid random bytes would be refused (415); random bytes are test_uploads.py's job.
    """
    positive = case.meta is not None and case.meta.generation.mode == schemathesis.GenerationMode.POSITIVE
    if case.operation.path == "/api/convert" and positive:
        case.body["image"] = picture("PNG", BLUE, size=(24, 16))
    case.operation.schema.app = app  # the checks' own probes (without the token, ...) go through the schema's app
    response = case.call_and_validate(app=app, **kwargs)
    if response.status_code == 202:
        wait_for_job(app, response.json()["job_id"])
    return response


def wait_for_job(app, job_id: str, timeout_s: float = 60) -> None:
    """Wait until a started (quick) training job ends, so the next request finds no job running: which
    requests get 202 and which 409 then depends on the requests alone, never on timing."""
    client, deadline = app.test_client(), time.monotonic() + timeout_s
    while (status := client.get(f"/api/train/{job_id}", headers={"Authorization": VALID_AUTHORIZATION}).json)[
            "status"] == "running":
        assert time.monotonic() < deadline, status
        time.sleep(0.02)
    assert status["status"] == "succeeded", status


@with_token.parametrize()
def test_every_operation_with_the_token(case, app):
    """No 5xx and answers as documented, the admin token sent with every request; where an admin endpoint
    answers 2xx, Schemathesis sends the request again without the token and with a wrong one (both refused)."""
    response = call(case, app, headers={"Authorization": VALID_AUTHORIZATION})
    if (case.method.upper(), case.operation.path) in ADMIN_ONLY:
        assert response.status_code not in (401, 403), response.text


@without_token.parametrize()
def test_admin_operations_without_the_token(case, app):
    """The admin endpoints, with no Authorization header or the random one Schemathesis makes: refused (401 or
    403), unless the request never reached the endpoint (a path that matches no route); never a job started."""
    response = call(case, app)
    assert response.request.headers.get("Authorization", "").strip() != VALID_AUTHORIZATION
    if case.method.upper() != case.operation.method.upper():  # another method on the path: Flask answers it
        assert response.status_code == 405 or (case.method.upper() == "OPTIONS" and response.status_code == 200
                                               and not response.content), response.text
    elif response.status_code not in (401, 403):  # a path that matches no route
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", response.text
