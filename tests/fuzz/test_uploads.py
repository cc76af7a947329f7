"""Fuzzed uploads to POST /api/convert: every answer is a 200 with a caption and audio, or a 4xx with a JSON
error; never a 5xx, and the app still converts a good picture afterwards.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from testkit.pictures import picture
from tests.fuzz import FUZZ

FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
MODES = ("L", "RGB", "RGBA", "P", "I;16", "CMYK")
AUDIO_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}
# The first bytes by which the service recognises each accepted type, so random data also reaches the decoders
SIGNATURES = (b"", b"\xff\xd8\xff", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", b"\x89PNG\r\n\x1a\n",
              b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"GIF87a", b"GIF89a", b"RIFF\x00\x01\x00\x00WEBPVP8 ",
              b"RIFF\xff\xff\xff\xffWEBPVP8L", b"BM", b"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00(\x00",
              b"\x00\x00\x00\x18ftypheic", b"\x00\x00\x00\x18ftypmif1", b"\xff\xff\xff\xffftypheic")


def _writable(fmt: str, mode: str) -> bool:
    """Whether Pillow can save a ``mode`` picture as ``fmt`` (JPEG has no alpha, PNG no CMYK, ...)."""
    try:
        _image(mode, 2, 2, np.random.default_rng(0)).save(io.BytesIO(), fmt)
    except (OSError, ValueError, KeyError):
        return False
    return True


def _image(mode: str, width: int, height: int, rng: np.random.Generator) -> Image.Image:
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 2**16, (height, width), dtype=np.uint16))
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).convert(mode)


WRITABLE = [(fmt, mode) for fmt in FORMATS for mode in MODES if _writable(fmt, mode)]


@st.composite
def pictures(draw: st.DrawFn) -> bytes:
    """A small real picture: any accepted format and writable mode, 1 to 64 px a side, noise or one colour,
    sometimes animated, a progressive JPEG or an optimized PNG, sometimes with an EXIF orientation (valid or not)."""
    fmt, mode = draw(st.sampled_from(WRITABLE))
    width, height = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    image = _image(mode, width, height, rng) if draw(st.booleans()) else _image(mode, 1, 1, rng).resize((width, height))
    options: dict = {}
    if fmt in ("GIF", "WEBP") and (frames := draw(st.integers(1, 3))) > 1:
        options.update(save_all=True, append_images=[_image(mode, width, height, rng) for _ in range(frames - 1)])
    if fmt == "JPEG":
        options.update(quality=draw(st.integers(1, 95)), progressive=draw(st.booleans()))
    if fmt == "PNG":
        options.update(optimize=draw(st.booleans()))
    if fmt in ("JPEG", "PNG", "WEBP") and (orientation := draw(st.none() | st.integers(0, 9) | st.integers(0, 65535))):
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@st.composite
def damaged(draw: st.DrawFn, files: st.SearchStrategy[bytes]) -> bytes:
    """A file from ``files`` cut short, with bits flipped, both or (now and then) neither."""
    data = bytearray(draw(files))
    if draw(st.booleans()):
        for position in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            data[position] ^= 1 << draw(st.integers(0, 7))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data) - 1))]
    return bytes(data)


def quoted(name: str) -> str:
    """A name as a careful client writes it into a multipart header's quoted string: ``\\`` and ``"`` escaped,
    line breaks percent-encoded as browsers do (Werkzeug's test client writes names as they are)."""
    return name.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "%0D").replace("\n", "%0A")


def post(client, data: bytes, filename: str = "photo.png", fields: dict | None = None, extra_files: dict | None = None):
    form = {quoted(name): value for name, value in (fields or {}).items()}
    form["image"] = (io.BytesIO(data), quoted(filename))
    for name, (content, file_name) in (extra_files or {}).items():
        form[quoted(name)] = (io.BytesIO(content), quoted(file_name))
    return client.post("/api/convert", data=form, content_type="multipart/form-data")


def assert_answer(client, answer, *, expect_ok: bool = False) -> dict:
    """A 200 with a caption and audio that downloads, or a 4xx JSON error with a code and message; never a 5xx."""
    assert answer.status_code < 500, answer.get_data()[:500]
    assert answer.is_json, answer.get_data()[:500]
    body = answer.json
    if expect_ok:
        assert answer.status_code == 200, body
    if answer.status_code == 200:
        assert body["success"] is True and isinstance(body["caption"], str) and body["caption"].strip(), body
        audio = client.get(body["audio_url"])
        assert audio.status_code == 200 and audio.data, body
        assert audio.mimetype == AUDIO_TYPES[body["speech"]["format"]]
    else:
        assert 400 <= answer.status_code < 500, body
        assert body["success"] is False and set(body["error"]) == {"code", "message"}, body
        assert body["error"]["code"] and body["error"]["message"].strip(), body
        assert "Traceback" not in answer.get_data(as_text=True)
    return body


def assert_refused_or_captioned(body: dict) -> None:
    """Refused as not an image, or (when the bytes happen to decode) captioned; nothing else."""
    assert body["success"] or body["error"]["code"] in ("invalid_image", "unsupported_media_type",
                                                        "image_too_large"), body


@pytest.fixture(autouse=True)
def service_stays_up(still_serving) -> Iterator[None]:
    """After each fuzz run, the same app still answers and converts a good picture as its model does."""
    yield
    still_serving()


@settings(FUZZ, max_examples=200)
@given(data=st.builds(bytes.__add__, st.sampled_from(SIGNATURES), st.binary(max_size=3000)))
def test_random_bytes_are_refused(client, data):
    """Bytes that are not an image, even behind an accepted type's signature, are refused with 400 or 415."""
    assert_refused_or_captioned(assert_answer(client, post(client, data)))


@settings(FUZZ, max_examples=100)
@given(data=pictures())
def test_real_pictures_are_captioned(client, data):
    """Every small picture in every accepted format and mode is captioned and spoken."""
    assert_answer(client, post(client, data), expect_ok=True)


@settings(FUZZ, max_examples=150)
@given(data=damaged(pictures()))
def test_damaged_pictures_get_a_caption_or_a_400(client, data):
    """A truncated or bit-flipped picture is either still decodable (200) or refused as invalid (400)."""
    assert_refused_or_captioned(assert_answer(client, post(client, data)))


TEXT = st.text(max_size=40)
ODD_NAMES = ("", ".", "..", "../../../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/shadow", "C:\\boot.ini",
             "photo.png\x00.exe", "CON", "a/b/c.png", "~/.ssh/id_rsa", "%2e%2e%2fetc%2fpasswd", " photo .png ",
             "ｐｈｏｔｏ．ｐｎｇ", "写真.jpg", "\u202egnp.exe", "x" * 5000, "é" * 2000 + ".png")
FILE_NAMES = st.sampled_from(ODD_NAMES) | st.text(max_size=300) | st.text(min_size=1000, max_size=5000)
VALID = {"model": ("", "captioner-lstm", "captioner-transformer"),
         "lang": ("", "en", "EN", " en "),  # the models describe pictures in English only
         "text": ("", "on", "off", " OFF "),
         "engine": ("", "espeak", "gtts", "auto", "ESPEAK"),  # gtts meets a closed port and falls back to espeak
         "format": ("", "mp3", "wav", "WAV")}
FIELDS = st.fixed_dictionaries({}, optional={name: st.sampled_from(values) | TEXT for name, values in VALID.items()})
OTHER_FIELDS = st.dictionaries(st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True).filter(
    lambda name: name not in {*VALID, "image"}), TEXT, max_size=3)
ERROR_CODES = {"model": "unknown_model", "lang": "unsupported_language", "engine": "unknown_engine",
               "format": "unsupported_format", "text": "invalid_text_option"}


@settings(FUZZ, max_examples=120)
@given(filename=FILE_NAMES, fields=FIELDS, other=OTHER_FIELDS, second_file=st.none() | st.binary(max_size=64))
def test_any_file_name_and_form_fields(client, filename, fields, other, second_file):
    """Any file name and any value of every form field the API reads (model, lang, engine, format, text), plus unknown
    fields and files: the known choices convert (200); an unknown field or file is a 400 saying which fields are
    read; anything else is a 400 naming the field's problem."""
    extra = {"attachment": (second_file, filename)} if second_file is not None else {}
    unknown = bool(other or extra)
    body = assert_answer(client, post(client, picture("PNG"), filename, {**other, **fields}, extra),
                         expect_ok=not unknown and all(value in VALID[name] for name, value in fields.items()))
    if unknown:
        assert body["error"]["code"] == "unknown_field", body
    elif not body["success"]:
        assert body["error"]["code"] in {ERROR_CODES[name] for name, value in fields.items()
                                         if value not in VALID[name]}, body
    else:
        chosen = {name: value.strip().lower() for name, value in fields.items() if value.strip()}
        assert body["model"]["name"] == chosen.get("model", "captioner-lstm")
        assert body["speech"]["lang"] == chosen.get("lang", "en")
        assert body["speech"]["format"] == chosen.get("format", "mp3")
        assert body["text"] == "" or chosen.get("text") == "on"  # read only when asked


BOUNDARY = "fuzzboundary"
PARTS = st.lists(st.tuples(st.sampled_from(['name="image"; filename="a.png"', 'name="image"', 'name="model"',
                                            'name="image"; filename*=UTF-8\'\'%E5%86%99.png', "", "name=image"]),
                           st.binary(max_size=200)), max_size=4)


@st.composite
def multipart_bodies(draw: st.DrawFn) -> bytes:
    """A multipart body made by hand: parts with odd headers, then random bytes spliced in anywhere."""
    boundary = BOUNDARY.encode()
    body = b"".join(b"--%s\r\nContent-Disposition: form-data; %s\r\n\r\n%s\r\n" % (boundary, head.encode(), data)
                    for head, data in draw(PARTS)) + draw(st.sampled_from([b"--%s--\r\n" % boundary, b""]))
    cut = draw(st.integers(0, len(body)))
    return body[:cut] + draw(st.binary(max_size=200)) + body[cut + draw(st.integers(0, 20)):]


@settings(FUZZ, max_examples=100)
@given(body=multipart_bodies(), content_type=st.sampled_from([
    f"multipart/form-data; boundary={BOUNDARY}", "multipart/form-data", "multipart/form-data; boundary=",
    "application/octet-stream", "image/png", ""]))
def test_raw_request_bodies_get_a_4xx(client, body, content_type):
    """Malformed multipart bodies, missing boundaries and other content types are refused with a JSON 4xx."""
    answer = client.post("/api/convert", data=body, headers={"Content-Type": content_type} if content_type else {})
    assert 400 <= answer.status_code < 500, answer.get_data()[:300]
    assert_answer(client, answer)
