"""The web page at ``/`` (convert, listen, history) and the admin page at ``/admin`` (training runs).

Server-rendered shells (``app/templates``) whose plain-JavaScript modules (``app/static/js``) talk to the
JSON API; the choices they offer come from the same tables the API checks against.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template

from app.services.images import ACCEPTED, ACCEPTED_TEXT
from app.services.train_params import OVERRIDES
from pipeline.speech.languages import LANGUAGES
from pipeline.speech.settings import ENGINES, MIME_TYPES
from pipeline.spoken import spoken_languages

bp = Blueprint("web", __name__)


@bp.get("/")
def index() -> str:
    config, speech = current_app.config, current_app.extensions["speaker"].settings
    accept = sorted({*ACCEPTED.values(), "image/heif", ".heic", ".heif"})
    return render_template(
        "index.html", max_bytes=config["MAX_CONTENT_LENGTH"], accept=",".join(accept),
        accepted_text=ACCEPTED_TEXT.split(" (")[0], languages=[c for c in LANGUAGES if c in spoken_languages()],
        engines=ENGINES,
        formats=list(MIME_TYPES), speech=speech, page_size=config["HISTORY_PAGE_SIZE"],
        text_default=config["TEXT_DEFAULT"],
    )


@bp.get("/admin")
def admin() -> str:
    return render_template("admin.html", overrides=OVERRIDES)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
