"""The service under real gunicorn on loopback: models loaded once per worker, bad input never takes it down."""

import requests

from testkit.gunicorn import serve
from testkit.pictures import GREEN, bomb, picture


def test_gunicorn_serves_and_survives_bad_input(shared_store, caption_of, tmp_path):
    with serve(shared_store.uri, tmp_path / "instance", workers=2, MODEL_POLL_SECONDS="0") as (url, log_path):
        session = requests.Session()  # a client that keeps the owner cookie, as the README tells

        def convert(data, **fields):
            return session.post(f"{url}/api/convert", files={"image": ("p.png", data)}, data=fields, timeout=30)

        good = convert(picture("PNG", GREEN), format="wav")
        assert good.status_code == 200 and good.json()["caption"] == caption_of(picture("PNG", GREEN))
        audio = requests.get(url + good.json()["audio_url"], timeout=10)
        assert audio.status_code == 200 and audio.headers["Content-Type"] == "audio/wav"
        assert audio.content[:4] == b"RIFF"

        jpeg = picture("JPEG", size=(300, 200))
        assert convert(jpeg[: len(jpeg) // 2]).status_code == 400
        assert convert(bomb()).status_code == 400
        assert convert(b"hello").status_code == 415
        too_big = convert(b"\xff\xd8\xff" + bytes(11 * 1024 * 1024))
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
        assert requests.get(f"{url}/api/nope", timeout=10).json()["error"]["code"] == "not_found"

        again = convert(picture("PNG", GREEN), model="captioner-transformer")
        assert again.status_code == 200 and again.json()["model"]["name"] == "captioner-transformer"
        assert again.json()["caption"] == caption_of(picture("PNG", GREEN), "captioner-transformer")
        assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
        assert session.get(f"{url}/api/history", timeout=10).json()["total"] == 2
        assert requests.get(f"{url}/api/history", timeout=10).json()["total"] == 0  # no cookie: another visitor

    log = log_path.read_text()
    assert "Traceback" not in log
    for name in ("captioner-lstm", "captioner-transformer"):
        assert log.count(f"serving {name} version 1 (was None)") == 2  # once in each of the two workers
