"""Google's voice unreachable while the service is set to speak with it: conversions still answer, in espeak's voice.

tests/integration/test_speech_gtts.py covers the ``Speaker`` alone against the same local stand-ins; here
it is the service's ``POST /api/convert`` on an app configured with ``SPEECH_ENGINE = "gtts"``.
"""

import io
import logging
import time

import soundfile as sf

from app import create_app
from testkit.pictures import BLUE, GREEN, RED, YELLOW, picture
from testkit.service import settings
from testkit.speech_servers import SilentServer, closed_port

ESPEAK_RATE = 22050  # the sample rate of espeak-ng's voices (Google's MP3s are 24 kHz)
TIMEOUT_S = 1.0  # the app's gTTS budget in these tests


def gtts_app(store, base_url: str, instance, **config):
    """An app on ``store`` whose default voice is gTTS at ``base_url`` (the lstm model only, to load faster)."""
    return create_app(settings(store, SPEECH_ENGINE="gtts", SPEECH_GTTS_BASE_URL=base_url,
                               SPEECH_GTTS_TIMEOUT_S=TIMEOUT_S, MODEL_NAMES=["captioner-lstm"], **config),
                      instance_path=instance)


def timed_convert(client, data: bytes, **fields):
    began = time.perf_counter()
    answer = client.post("/api/convert", data={"image": (io.BytesIO(data), "p.png"), **fields})
    return answer, time.perf_counter() - began


def check_spoken_by_espeak(client, body: dict, fmt: str) -> None:
    """The answer names espeak, and its audio is espeak's: it decodes at espeak's rate, and lasts."""
    assert body["speech"]["engine"] == "espeak" and body["speech"]["format"] == fmt and body["caption"]
    audio = client.get(body["audio_url"])
    assert audio.status_code == 200 and audio.mimetype == {"mp3": "audio/mpeg", "wav": "audio/wav"}[fmt]
    samples, rate = sf.read(io.BytesIO(audio.data), dtype="float32")
    assert rate == ESPEAK_RATE and len(samples) / rate > 0.3 and abs(samples).max() > 0.01
    entry = next(item for item in client.get("/api/history").json["items"] if item["id"] == body["id"])
    assert entry["speech"] == body["speech"] and entry["caption"] == body["caption"]  # the history says the same


def test_gtts_refused_the_conversion_is_spoken_by_espeak(shared_store, tmp_path, caplog):
    client = gtts_app(shared_store, f"http://127.0.0.1:{closed_port()}", tmp_path / "instance").test_client()
    for colour, fmt in ((RED, "mp3"), (BLUE, "wav")):
        data = picture("PNG", colour)
        with caplog.at_level(logging.WARNING, logger="pipeline.speech.service"):
            answer, took = timed_convert(client, data, format=fmt)
        assert answer.status_code == 200, answer.json
        check_spoken_by_espeak(client, answer.json, fmt)
        assert took < TIMEOUT_S + 5
    fallbacks = [r for r in caplog.records if r.name == "pipeline.speech.service"]
    assert [r.levelname for r in fallbacks] == ["WARNING", "WARNING"]  # the operator chose gtts: it is a warning
    assert all(r.getMessage() == "falling back to espeak: gtts failed: cannot connect to the server" for r in fallbacks)


def test_gtts_silent_conversions_wait_no_longer_than_its_budget_then_not_at_all(shared_store, tmp_path, caplog):
    """A black-holed Google: the first conversions wait out the budget, then the circuit opens and they do not."""
    with SilentServer() as silent:
        client = gtts_app(shared_store, silent.base_url, tmp_path / "instance", SPEECH_BREAKER_FAILURES=2).test_client()
        took = {}
        for colour in (RED, GREEN, BLUE, YELLOW):
            data = picture("PNG", colour)
            with caplog.at_level(logging.WARNING, logger="pipeline.speech.service"):
                answer, took[colour] = timed_convert(client, data)
            assert answer.status_code == 200, answer.json
            check_spoken_by_espeak(client, answer.json, "mp3")
        asked = len(silent._held)  # connections the silent server accepted
    assert all(TIMEOUT_S * 0.9 < took[colour] < TIMEOUT_S + 5 for colour in (RED, GREEN))  # waited the budget
    assert asked == 2 and all(took[colour] < TIMEOUT_S for colour in (BLUE, YELLOW))  # the circuit is open: no wait
    reasons = [r.getMessage() for r in caplog.records if r.name == "pipeline.speech.service"]
    assert reasons[:2] == [f"falling back to espeak: gtts failed: no answer within {TIMEOUT_S:g} s"] * 2
    assert all("circuit is open" in reason for reason in reasons[2:]) and len(reasons) == 4

