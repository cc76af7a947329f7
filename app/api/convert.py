"""``POST /api/convert``: a picture in, its caption spoken out as honestly as the model can say it, kept."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, g, jsonify, request

from app.api.history import result_json
from app.errors import ApiError
from app.services.images import decode_image, kept_jpeg
from app.services.reading import CHOICES
from app.services.speech import check_caption_language, check_options
from app.timing import span
from pipeline.speech import EngineError
from pipeline.spoken import compose

log = logging.getLogger(__name__)
bp = Blueprint("convert", __name__)
FIELDS = ("image", "model", "lang", "engine", "format", "text")  # the multipart fields a conversion reads


@bp.post("/convert")
def convert() -> Response:
    started = time.perf_counter()
    config, extensions = current_app.config, current_app.extensions
    with span("form"):
        form, upload = request.form, request.files.get("image")
    if upload is None:
        raise ApiError("send the picture as the multipart/form-data file field 'image'", code="missing_image")
    if request.args or (set(form) | set(request.files)) - set(FIELDS):
        raise ApiError(f"unknown field: a conversion reads only the multipart fields {', '.join(FIELDS)} "
                       f"(no query parameters); see GET /api/openapi.json", code="unknown_field")
    registry = extensions["models"]
    name = form.get("model") or registry.default(config["DEFAULT_MODEL"])[0]
    if name not in config["MODEL_NAMES"]:
        raise ApiError(f"model must be one of {', '.join(config['MODEL_NAMES'])} (or left out for the default, "
                       f"{registry.default(config['DEFAULT_MODEL'])[0]})", code="unknown_model")
    speaker = extensions["speaker"]
    lang, engine, fmt = check_options(speaker, form.get("lang") or None, form.get("engine") or None,
                                      form.get("format") or None)
    model = registry.get(name)
    if model is None:
        raise ApiError(f"model {name} is not loaded yet; see GET /readyz", status=503, code="model_unavailable")
    check_caption_language(lang, model.languages)
    text_option = (form.get("text") or "").strip().lower() or config["TEXT_DEFAULT"]
    if text_option not in CHOICES:
        raise ApiError(f"text must be one of {', '.join(CHOICES)} (read the text in the picture aloud or not)",
                       code="invalid_text_option")

    # Decoded no larger than this conversion's largest consumer needs: the text reader, else the kept picture
    # (the captioners take less than either), so the kept picture is not resized a second time.
    max_side = config["DECODE_MAX_SIDE"]
    if text_option == "off":
        max_side = min(max_side, config["RESULT_IMAGE_MAX_SIDE"])
    with model.arriving() as arrival:  # a batch about to run waits for this picture (BATCH_WINDOW_MS at most)
        with span("decode"), extensions["decoding"]:  # at most DECODE_CONCURRENCY decoded uploads in memory at once
            image = decode_image(upload.read(), config["MAX_IMAGE_PIXELS"], max_side)
        with span("caption"):
            described = model.describe(image, arrival)
    with span("read"):
        text = extensions["reader"].read(image) if text_option == "on" else ""
    spoken = compose(described.caption, described.in_domain, described.sure, lang, text,
                     max_chars=speaker.settings.max_chars)
    try:
        with span("speech"):
            speech = speaker.synthesize(spoken.text, lang=lang, engine=engine, fmt=fmt)
    except EngineError:
        log.exception("speech failed for %r", spoken.text)
        raise ApiError("speech synthesis failed; try again or choose another engine", status=503,
                       code="speech_unavailable") from None
    with span("keep-image"):
        kept = kept_jpeg(image, config["RESULT_IMAGE_QUALITY"], config["RESULT_IMAGE_MAX_SIDE"])
    with span("history"):
        result = extensions["history"].add(
            image=kept, audio=speech.audio, caption=described.caption,
            model_name=model.name, model_version=model.version, engine=speech.engine, lang=speech.lang,
            fmt=speech.fmt, processing_time=time.perf_counter() - started, spoken=spoken.text,
            in_domain=described.in_domain, confidence=round(described.confidence, 4), text=text, owner=g.owner,
        )
    with span("json"):
        return jsonify(success=True, **result_json(result))
