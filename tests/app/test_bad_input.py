"""Every kind of bad request gets its status, a JSON error that says what was wrong, and the service goes on."""

import io

import numpy as np
import pytest
from PIL import Image

from testkit.pictures import bomb, encode, picture

NOISE = Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8))
ACCEPTED_NAMES = ("JPEG", "PNG", "WebP", "GIF", "BMP", "HEIC")


def assert_error(answer, status, code, *words):
    assert answer.status_code == status, answer.data[:300]
    assert answer.is_json and answer.json["success"] is False
    assert answer.json["error"]["code"] == code
    message = answer.json["error"]["message"]
    for word in words:
        assert word in message, message
    assert "Traceback" not in answer.get_data(as_text=True)


@pytest.fixture(autouse=True)
def service_stays_up(still_serving):
    """After each bad request, the same app still converts a good picture (as the same model does in-process)."""
    yield
    still_serving()


def test_an_upload_over_the_limit_gets_413(make_app):
    client = make_app(MAX_CONTENT_LENGTH=50_000).test_client()
    data = {"image": (io.BytesIO(b"\xff\xd8\xff" + bytes(60_000)), "big.jpg")}
    answer = client.post("/api/convert", data=data, content_type="multipart/form-data")
    assert_error(answer, 413, "payload_too_large", "50,000 bytes")


@pytest.mark.parametrize("data", [
    b"just some text, not a picture",
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
    encode(Image.new("RGB", (8, 8)), "TIFF"),
    encode(Image.new("RGB", (8, 8)), "ICO"),
    b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(64),
], ids=["text", "pdf", "svg", "tiff", "ico", "avif"])
def test_other_types_get_415_naming_the_accepted_ones(convert, data):
    assert_error(convert(data, filename="photo.jpg"), 415, "unsupported_media_type", *ACCEPTED_NAMES)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "BMP", "HEIF"])
@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_a_truncated_file_gets_400(convert, fmt, keep):
    if fmt == "HEIF":
        picture("HEIF")  # registers the HEIF writer
    data = encode(NOISE, fmt)
    assert_error(convert(data[: int(len(data) * keep)]), 400, "invalid_image", "truncated or corrupt")


def test_a_right_signature_over_garbage_gets_400(convert):
    assert_error(convert(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4), 400, "invalid_image", "PNG")


def test_an_empty_file_gets_400(convert):
    assert_error(convert(b""), 400, "invalid_image", "empty")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("size", [(12_000, 12_000), (20_000, 20_000)], ids=["over-our-limit", "over-pillows-limit"])
def test_a_decompression_bomb_gets_400(convert, size):
    data = bomb(size)
    assert len(data) < 100_000  # small on the wire, huge in memory
    assert_error(convert(data), 400, "image_too_large", "pixels")


def test_no_image_field_gets_400(client):
    answer = client.post("/api/convert", data={"picture": (io.BytesIO(picture()), "a.png")})
    assert_error(answer, 400, "missing_image", "'image'")
    assert_error(client.post("/api/convert", json={"image": "x"}), 400, "missing_image")


@pytest.mark.parametrize("extra", [
    {"language": "fr"},  # the option is `lang`: ignoring it would speak English without a word
    {"lang": "en", "voice": "espeak"},
    {"attachment": (io.BytesIO(b"second file"), "notes.txt")},
], ids=["misnamed-option", "unknown-option", "second-file"])
def test_an_unknown_field_gets_400_naming_the_fields_read_not_the_one_sent(convert, extra):
    answer = convert(**extra)
    assert_error(answer, 400, "unknown_field", "image, model, lang, engine, format, text")
    assert not {"language", "voice", "attachment"} & set(answer.json["error"]["message"].split())


def test_query_parameters_get_400_as_options_come_in_the_form(client):
    form = {"image": (io.BytesIO(picture()), "photo.png")}
    answer = client.post("/api/convert?lang=fr", data=form, content_type="multipart/form-data")
    assert_error(answer, 400, "unknown_field", "query parameters")


def test_an_unknown_model_gets_400_naming_the_default_it_would_have_had(client, convert):
    default = next(m["id"] for m in client.get("/api/models").json["models"] if m["default"])
    assert_error(convert(model="captioner-gru"), 400, "unknown_model", f"left out for the default, {default}")


@pytest.mark.parametrize(("field", "value", "code", "hint"), [
    ("model", "captioner-gru", "unknown_model", "captioner-lstm, captioner-transformer"),
    ("lang", "klingon", "unsupported_language", "en"),
    ("format", "ogg", "unsupported_format", "mp3, wav"),
    ("engine", "festival", "unknown_engine", "auto, espeak, gtts"),
])
def test_bad_options_get_400_naming_the_field_and_the_choices_not_the_value(convert, field, value, code, hint):
    answer = convert(**{field: value})
    assert_error(answer, 400, code, f"{field} must be one of", hint)
    assert value not in answer.json["error"]["message"]


def test_unknown_paths_and_methods_get_json_404_and_405(client):
    assert_error(client.get("/api/nothing-here"), 404, "not_found")
    answer = client.get("/api/convert")
    assert_error(answer, 405, "method_not_allowed")
    assert "POST" in answer.headers["Allow"]
    assert_error(client.get("/api/results/../../etc/passwd/image"), 404, "not_found")
    assert_error(client.get("/api/results/" + "0" * 32 + "/image"), 404, "result_not_found")


def test_a_crash_answers_500_without_details_and_debug_is_off(make_app, caplog):
    app = make_app()  # its own, to add a route to (the shared one has served requests already)
    client = app.test_client()

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals /etc/shadow")

    assert app.debug is False
    answer = client.get("/boom")
    assert_error(answer, 500, "internal_error", "logged")
    assert "secret" not in answer.get_data(as_text=True) and "RuntimeError" not in answer.get_data(as_text=True)
    assert "secret internals" in caplog.text  # logged for the operator


def test_a_16_bit_png_at_the_pixel_limit_is_converted_and_kept_small(client, convert):
    """A small file (under 200 kB) that decodes to 49.9 million 16-bit samples: shrunk in its own mode before any
    conversion (it once became a full-size float64 copy, gigabytes), kept at 1280 px."""
    data = encode(Image.fromarray(np.full((7071, 7071), 30000, np.uint16)), "PNG")
    answer = convert(data, filename="grey16.png")
    assert answer.status_code == 200, answer.json
    kept = Image.open(io.BytesIO(client.get(answer.json["image_url"]).data))
    assert kept.size == (1280, 1280) and abs(np.asarray(kept, float).mean() - 30000 / 257) < 2


def test_metadata_stuffed_into_a_jpeg_stays_out_of_the_kept_picture(client, convert):
    exif = Image.Exif()
    exif[0x010E] = "x" * 30_000  # ImageDescription
    data = encode(NOISE, "JPEG", exif=exif.tobytes(), comment=b"c" * 60_000, xmp=b"<x>" + b"p" * 60_000 + b"</x>")
    answer = convert(data, filename="stuffed.jpg")
    assert answer.status_code == 200, answer.json
    kept = client.get(answer.json["image_url"]).data
    assert len(kept) < 20_000 and b"ccc" not in kept and b"ppp" not in kept and b"xxx" not in kept
