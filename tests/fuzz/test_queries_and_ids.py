"""Fuzzed query strings of GET /api/history and result ids in every path that takes one: the kept results
answer, anything else is a JSON 400 or 404; never a 5xx, and the app still converts afterwards."""

from __future__ import annotations

import io
import math
import string
import urllib.parse
from collections.abc import Iterator

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.api.history import MAX_PAGE
from testkit.pictures import GREEN, YELLOW, picture
from tests.fuzz import FUZZ

FILES = {"image": "image/jpeg", "caption": "text/plain", "zip": "application/zip"}  # audio: the result's format


@pytest.fixture(autouse=True)
def service_stays_up(still_serving) -> Iterator[None]:
    """After each fuzz run, the same app still answers and converts a good picture as its model does."""
    yield
    still_serving()


@pytest.fixture(scope="module")
def kept(app) -> list[str]:
    """Two results of this module's own (the history holds others' too, but these are surely there)."""
    client = app.test_client()
    answers = [client.post("/api/convert", data={"image": (io.BytesIO(picture("PNG", colour)), "a.png"), "format": fmt},
                           content_type="multipart/form-data") for colour, fmt in ((GREEN, "wav"), (YELLOW, "mp3"))]
    assert all(answer.status_code == 200 for answer in answers)
    return [answer.json["id"] for answer in answers]


NUMBERS = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.integers(0, 120).map(str),
    st.builds(str.__mul__, st.sampled_from("019"), st.integers(2, 6000)),  # long: int() refuses over 4,300 digits
    st.sampled_from(["", " ", "1 ", " 2", "+1", "-0", "01", "0x10", "1e2", "1.0", "1_0", "²", "١٢", "３", "Ⅻ",
                     "1\x00", "NaN", "inf", str(MAX_PAGE), str(MAX_PAGE + 1), "0" * 5000 + "1"]),
    st.text(max_size=12),
)
PAIRS = st.lists(st.tuples(st.sampled_from(["page", "per_page", "Page", "page[]", "other"]), NUMBERS), max_size=5)


def expected(raw: str | None, default: int, high: int) -> int | None:
    """What the service makes of one parameter: its value, or None when it must refuse it."""
    if raw is None:
        return default
    digits = raw.lstrip("0")
    if not (raw.isascii() and raw.isdigit()) or len(digits) > len(str(high)):  # int() refuses 4,301 digits
        return None
    return int(digits) if 1 <= int(digits or 0) <= high else None


@settings(FUZZ, max_examples=150)
@given(pairs=PAIRS)
def test_any_history_query(app, client, pairs):
    """page and per_page: ASCII digits in range give that page (the page's own numbers add up); anything else
    (signs, spaces, other digits, huge numbers, text) is a 400 naming the parameter; other keys are ignored."""
    answer = client.get("/api/history?" + urllib.parse.urlencode(pairs))
    first = {name: next((value for key, value in pairs if key == name), None) for name in ("page", "per_page")}
    page = expected(first["page"], 1, MAX_PAGE)
    per_page = expected(first["per_page"], app.config["HISTORY_PAGE_SIZE"], app.config["HISTORY_MAX_PAGE_SIZE"])
    assert answer.is_json, answer.data[:300]
    if page is None or per_page is None:
        assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_query", answer.json
        assert ("page" if page is None else "per_page") in answer.json["error"]["message"]
        return
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert (body["page"], body["per_page"]) == (page, per_page)
    assert body["pages"] == math.ceil(body["total"] / per_page)
    assert len(body["items"]) == max(0, min(per_page, body["total"] - (page - 1) * per_page))
    created = [item["created_at"] for item in body["items"]]
    assert created == sorted(created, reverse=True)  # newest first


@settings(FUZZ, max_examples=100)
@given(query=st.binary(max_size=200))
def test_any_raw_query_string(client, query):
    """Bytes no client would send (bad percent escapes, lone separators, invalid UTF-8) as the query string."""
    answer = client.get("/api/history", environ_overrides={"QUERY_STRING": query.decode("latin-1")})
    assert answer.status_code in (200, 400) and answer.is_json, answer.data[:300]


HEX = "0123456789abcdef"
ODD_IDS = st.sampled_from(["", ".", "..", "%2e%2e", "../..", "a" * 32, "0" * 32, "0" * 31, "0" * 33, "A" * 32,
                           "g" * 32, "0" * 10_000, "\x00" * 32, "00000000-0000-0000-0000-000000000000",
                           "' OR 1=1 --", "*", "%", "%00", "%2F", "results", "image"])


@st.composite
def result_ids(draw: st.DrawFn, kept: list[str]) -> tuple[str, bool]:
    """An id to put in a path, and whether it names a kept result: a kept id, a kept id changed a little
    (upper case, a character more or less, another hex digit), a random hex id, odd strings, any text."""
    real = draw(st.sampled_from(kept))
    changed = draw(st.sampled_from(["upper", "longer", "shorter", "other digit", "prefix"]))
    position = draw(st.integers(0, 31))
    variant = {"upper": real.upper(), "longer": real + draw(st.sampled_from(HEX)), "shorter": real[:-1],
               "other digit": real[:position] + HEX[(HEX.index(real[position]) + 1) % 16] + real[position + 1:],
               "prefix": " " + real}[changed]
    chosen = draw(st.one_of(st.just(real), st.just(variant), st.text(HEX, min_size=32, max_size=32), ODD_IDS,
                            st.text(max_size=40), st.text(string.printable, min_size=1, max_size=40)))
    return chosen, chosen in kept


def assert_not_found(answer, path: str) -> None:
    """A JSON 404, or (for a path with an empty segment, say an id with a slash) Werkzeug's redirect to the same
    path with the repeated slashes merged."""
    if answer.status_code == 308:
        assert "//" in path and "//" not in answer.headers["Location"].partition("://")[2], answer.headers
    else:
        assert answer.status_code == 404 and answer.is_json, answer.data[:300]
        assert answer.json["error"]["code"] in ("result_not_found", "not_found"), answer.json


@settings(FUZZ, max_examples=150)
@given(data=st.data(), kind=st.sampled_from(["image", "audio", "caption", "zip", "delete"]))
def test_any_result_id(client, kept, data, kind):
    """A kept result's files download; any other id (or a path that is no id) is a JSON 404, and a DELETE of
    an id that names nothing deletes nothing. The id goes percent-encoded, as a client sends it."""
    result_id, known = data.draw(result_ids(kept))
    assume(not (known and kind == "delete"))  # deleting a kept result is tests/app/test_history.py's; here misses
    path = urllib.parse.quote(result_id, safe="")
    answer = client.delete(f"/api/history/{path}") if kind == "delete" else client.get(f"/api/results/{path}/{kind}")
    assert answer.status_code < 500, answer.data[:300]
    if known:
        assert answer.status_code == 200 and answer.data
        assert answer.mimetype == FILES.get(kind, answer.mimetype) and answer.mimetype != "application/json"
        assert kind != "audio" or answer.mimetype in ("audio/mpeg", "audio/wav")
    else:
        assert_not_found(answer, urllib.parse.unquote(path))
    assert all(client.get(f"/api/results/{kept_id}/caption").status_code == 200 for kept_id in kept)


@settings(FUZZ, max_examples=100)
@given(segment=st.binary(min_size=1, max_size=80), kind=st.sampled_from(["image", "audio", "caption", "zip"]))
def test_any_raw_path(client, segment, kind):
    """Raw bytes where the id goes, as a server passes them on undecoded (gunicorn hands over any byte)."""
    path = f"/api/results/{segment.decode('latin-1')}/{kind}"
    assert_not_found(client.get("/", environ_overrides={"PATH_INFO": path}), path)
