"""Fuzzed owner cookies, Origin and Sec-Fetch-Site headers and Host headers: a forged cookie is a stranger with
an empty history who can delete nothing; a change is refused (403) exactly when another site's page sent it; an
untrusted host gets 400 without being repeated; never a 5xx, and the app still converts afterwards."""

from __future__ import annotations

import io
import string
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import UNTRUSTED_HOST as UNTRUSTED
from app.owners import COOKIE, TOKEN
from testkit.pictures import picture
from tests.fuzz import FUZZ

URLSAFE = string.ascii_letters + string.digits + "-_"
# What may stand in a Cookie header's value: printable ASCII but the separators and quotes
COOKIE_TEXT = st.text(st.sampled_from(sorted(set(string.printable) - set(";,\" \\\t\n\r\x0b\x0c"))), max_size=80)
COOKIES = COOKIE_TEXT | st.text(st.sampled_from(URLSAFE), min_size=43, max_size=43)


@pytest.fixture(autouse=True)
def service_stays_up(still_serving) -> Iterator[None]:
    yield
    still_serving()


@pytest.fixture(scope="module")
def owned(app) -> str:
    """A result of this module's own visitor."""
    answer = app.test_client().post("/api/convert", data={"image": (io.BytesIO(picture()), "a.png")},
                                    content_type="multipart/form-data")
    assert answer.status_code == 200
    return answer.json["id"]


@settings(FUZZ, max_examples=120)
@given(cookie=COOKIES)
def test_any_owner_cookie_is_a_stranger(app, owned, cookie):
    client = app.test_client(use_cookies=False)
    headers = {"Cookie": f"{COOKIE}={cookie}"}
    listed = client.get("/api/history?per_page=100", headers=headers)
    assert listed.status_code == 200 and listed.json["items"] == [] and listed.json["total"] == 0
    given_back = listed.headers["Set-Cookie"].split(";")[0].partition("=")[2]
    assert TOKEN.fullmatch(given_back) and (given_back == cookie) == bool(TOKEN.fullmatch(cookie))
    deleted = client.delete(f"/api/history/{owned}", headers=headers)
    assert deleted.status_code == 404 and deleted.json["error"]["code"] == "result_not_found"
    assert client.get(f"/api/results/{owned}/caption").status_code == 200  # still kept, its link still works


HOSTS = st.sampled_from(["localhost", "127.0.0.1", "evil.example", "localhost.evil.example", "LOCALHOST", ""])
ORIGINS = st.none() | st.sampled_from(["null", "http://localhost", "https://localhost", "http://localhost:80",
                                       "http://evil.example", "http://[::1", "file://", "http://"]) | \
    st.builds("{}://{}{}".format, st.sampled_from(["http", "https"]), HOSTS,
              st.sampled_from(["", ":80", ":5000", "/path"]))
FETCH_SITES = st.none() | st.sampled_from(["same-origin", "same-site", "cross-site", "none", "CROSS-SITE", "other"])


def foreign(origin: str | None, fetch_site: str | None) -> bool:
    """Whether the service must take the request for another site's: the test's own statement of the rule."""
    if fetch_site is not None and fetch_site.lower() in ("cross-site", "same-site"):
        return True
    if origin is None:
        return False
    authority = origin.partition("://")[2].split("/")[0].lower()
    return authority != "localhost"  # the test client's Host: the only origin that is the service's own


@settings(FUZZ, max_examples=120)
@given(origin=ORIGINS, fetch_site=FETCH_SITES, method=st.sampled_from(["POST", "DELETE"]))
def test_changes_are_refused_exactly_when_another_site_sent_them(client, origin, fetch_site, method):
    headers = {name: value for name, value in (("Origin", origin), ("Sec-Fetch-Site", fetch_site)) if value is not None}
    if method == "POST":
        answer = client.post("/api/convert", data={"image": (io.BytesIO(picture()), "a.png")},
                             content_type="multipart/form-data", headers=headers)
    else:
        answer = client.delete("/api/history/" + "0" * 32, headers=headers)
    assert answer.is_json and answer.status_code < 500
    if foreign(origin, fetch_site):
        assert answer.status_code == 403 and answer.json["error"]["code"] == "cross_site_request", headers
    else:
        assert answer.status_code == (200 if method == "POST" else 404), (headers, answer.json)


@settings(FUZZ, max_examples=100)
@given(host=st.text(max_size=60) | HOSTS | st.builds("{}:{}".format, HOSTS, st.integers(-5, 70000)))
def test_any_host_header(client, host):
    answer = client.get("/healthz", environ_overrides={"HTTP_HOST": host})
    assert answer.is_json and answer.status_code in (200, 400), answer.data[:200]
    if answer.status_code == 400:
        assert answer.json["error"] == {"code": "untrusted_host", "message": UNTRUSTED}  # never the host sent
