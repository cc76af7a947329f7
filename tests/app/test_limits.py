"""Rate limits: RATE_LIMIT conversions and failed admin authentications per client (address and owner cookie),
then 429 with Retry-After and the JSON error; trusted proxies decide what the client's address is."""

import io

import pytest

from app import create_app
from testkit.service import TOKEN
from testkit.pictures import picture


def convert(client, **environ):
    return client.post("/api/convert", data={"image": (io.BytesIO(picture()), "p.png")},
                       content_type="multipart/form-data", environ_overrides=environ)


def assert_limited(answer) -> None:
    assert answer.status_code == 429 and answer.is_json
    assert answer.json["success"] is False and answer.json["error"]["code"] == "too_many_requests"
    assert "2 per 1 minute" in answer.json["error"]["message"]
    assert 0 < int(answer.headers["Retry-After"]) <= 61  # seconds, rounded up


def test_conversions_past_the_limit_get_429_with_retry_after(make_app):
    app = make_app(RATE_LIMIT="2/minute")
    client = app.test_client()
    assert [convert(client).status_code for _ in range(2)] == [200, 200]
    assert_limited(convert(client))
    assert client.get("/api/history").status_code == 200  # reading is not limited
    assert convert(app.test_client(), REMOTE_ADDR="192.0.2.7").status_code == 200  # another client: its own count


def test_a_new_cookie_from_the_same_address_is_still_limited(make_app):
    app = make_app(RATE_LIMIT="2/minute")
    for _ in range(2):
        assert convert(app.test_client()).status_code == 200  # a fresh cookie jar each time
    assert_limited(convert(app.test_client()))


def test_failed_admin_authentication_is_limited_and_success_is_not(make_app):
    app = make_app(RATE_LIMIT="2/minute")
    admin = app.test_client()
    for _ in range(3):  # the right token costs nothing
        assert admin.post("/api/models/reload", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    guesser = app.test_client()
    wrong = {"Authorization": "Bearer " + "x" * 40}
    attempts = [guesser.post("/api/train", json={}, headers=wrong, environ_overrides={"REMOTE_ADDR": "192.0.2.9"})
                for _ in range(3)]
    assert [a.status_code for a in attempts[:2]] == [403, 403]
    assert_limited(attempts[2])
    right = guesser.get("/api/train/" + "0" * 32, headers={"Authorization": f"Bearer {TOKEN}"},
                        environ_overrides={"REMOTE_ADDR": "192.0.2.9"})
    assert_limited(right)  # a throttled client waits, whatever token it sends next
    assert guesser.get("/api/history", environ_overrides={"REMOTE_ADDR": "192.0.2.9"}).status_code == 200  # no token


@pytest.mark.parametrize(("proxies", "separate"), [(0, False), (1, True)])
def test_forwarded_addresses_count_only_behind_trusted_proxies(make_app, proxies, separate):
    app = make_app(RATE_LIMIT="2/minute", TRUSTED_PROXIES=proxies)
    answers = [convert(app.test_client(), HTTP_X_FORWARDED_FOR=f"198.51.100.{n}") for n in range(3)]
    assert [a.status_code for a in answers] == ([200, 200, 200] if separate else [200, 200, 429])


def test_off_turns_the_limit_off_and_a_bad_limit_refuses_to_start(make_app, tmp_path):
    client = make_app(RATE_LIMIT="off").test_client()
    assert all(convert(client).status_code == 200 for _ in range(4))
    with pytest.raises(ValueError, match="RATE_LIMIT"):
        create_app({"RATE_LIMIT": "lots", "MODEL_POLL_SECONDS": 0}, instance_path=tmp_path, start_models=False)
