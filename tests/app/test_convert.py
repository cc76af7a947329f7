"""POST /api/convert with the real stand-in models from a real MLflow store, and real espeak-ng."""

import io
import wave
import zipfile

import pytest

from tests.app.pictures import BLUE, RED, YELLOW, picture


@pytest.mark.parametrize("model", ["captioner-lstm", "captioner-transformer"])
@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_convert_with_each_model_and_format(app, client, convert, model, fmt):
    answer = convert(picture("PNG", BLUE), model=model, format=fmt)

    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["success"] is True and body["caption"] == "a blue image"
    assert body["model"] == {"name": model, "version": "1"}
    assert body["speech"] == {"engine": "espeak", "lang": "en", "format": fmt}
    assert 0 < body["processing_time"] < 30
    audio = client.get(body["audio_url"])
    assert audio.status_code == 200
    assert audio.mimetype == {"mp3": "audio/mpeg", "wav": "audio/wav"}[fmt]
    if fmt == "wav":
        with wave.open(io.BytesIO(audio.data)) as clip:
            assert clip.getnframes() / clip.getframerate() > 0.3  # a few words of speech
    else:
        assert audio.data[:3] == b"ID3" or audio.data[0] == 0xFF
    image = client.get(body["image_url"])
    assert image.status_code == 200 and image.mimetype == "image/jpeg" and image.data[:3] == b"\xff\xd8\xff"


def test_defaults_are_the_default_model_english_mp3(convert):
    body = convert(picture("JPEG", YELLOW)).json
    assert body["caption"] == "a yellow image"
    assert body["model"]["name"] == "captioner-lstm"
    assert body["speech"] == {"engine": "espeak", "lang": "en", "format": "mp3"}


def test_another_language_is_spoken_in_it(convert):
    body = convert(lang="fr", format="wav").json
    assert body["speech"]["lang"] == "fr" and body["caption"] == "a red image"


def test_the_result_is_kept_with_caption_and_zip(client, convert):
    body = convert(picture("PNG", RED), format="wav").json
    caption = client.get(body["caption_url"])
    assert caption.status_code == 200 and caption.mimetype == "text/plain"
    assert caption.get_data(as_text=True).strip() == "a red image"

    archive = client.get(body["zip_url"])
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.data)) as z:
        assert sorted(z.namelist()) == ["audio.wav", "caption.txt", "image.jpg"]
        assert z.read("caption.txt").decode().strip() == "a red image"
        assert z.read("audio.wav") == client.get(body["audio_url"]).data
    assert body["id"] in archive.headers["Content-Disposition"]


def test_the_clients_file_name_is_never_a_path(app, client, convert, tmp_path):
    body = convert(filename="../../../../etc/evil.png").json
    results = tmp_path / "instance" / "results"
    assert sorted(p.name for p in (results / body["id"]).iterdir()) == ["audio.mp3", "caption.txt", "image.jpg"]
    assert not any("evil" in str(p) for p in tmp_path.rglob("*"))
