"""POST /api/convert with real tiny Keras captioners from a real MLflow store, and real espeak-ng."""

import io
import wave
import zipfile
from pathlib import Path

import pytest

from tests.app.pictures import BLUE, RED, YELLOW, picture
from tests.tiny_models import vocabulary_words


@pytest.mark.parametrize("model", ["captioner-lstm", "captioner-transformer"])
@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_convert_with_each_model_and_format(client, convert, caption_of, tiny_models, model, fmt):
    data = picture("PNG", BLUE)
    answer = convert(data, model=model, format=fmt)

    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["success"] is True and body["caption"] == caption_of(data, model)  # the model's own answer
    words = body["caption"].split()
    assert words and set(words) <= vocabulary_words(tiny_models[model.removeprefix("captioner-")])
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


def test_defaults_are_the_default_model_english_mp3(convert, caption_of):
    data = picture("JPEG", YELLOW)
    body = convert(data).json
    assert body["caption"] == caption_of(data, "captioner-lstm")
    assert body["model"]["name"] == "captioner-lstm"
    assert body["speech"] == {"engine": "espeak", "lang": "en", "format": "mp3"}


def test_another_language_is_spoken_in_it(client, convert):
    english, french = (convert(format="wav", lang=lang).json for lang in ("en", "fr"))
    assert french["speech"]["lang"] == "fr" and french["caption"] == english["caption"]  # the caption is not translated
    assert client.get(french["audio_url"]).data != client.get(english["audio_url"]).data  # but spoken in French


def test_the_result_is_kept_with_caption_and_zip(client, convert, caption_of):
    data = picture("PNG", RED)
    body = convert(data, format="wav").json
    expected = caption_of(data)
    caption = client.get(body["caption_url"])
    assert caption.status_code == 200 and caption.mimetype == "text/plain"
    assert caption.get_data(as_text=True).strip() == body["caption"] == expected

    archive = client.get(body["zip_url"])
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.data)) as z:
        assert sorted(z.namelist()) == ["audio.wav", "caption.txt", "image.jpg"]
        assert z.read("caption.txt").decode().strip() == expected
        assert z.read("audio.wav") == client.get(body["audio_url"]).data
    assert body["id"] in archive.headers["Content-Disposition"]


def test_the_clients_file_name_is_never_a_path(app, convert):
    body = convert(filename="../../../../etc/evil.png").json
    instance = Path(app.instance_path)
    assert sorted(p.name for p in (instance / "results" / body["id"]).iterdir()) == ["audio.mp3", "caption.txt",
                                                                                   "image.jpg"]  # fmt: skip
    escaped = instance / "results" / body["id"] / "../../../../etc"  # where the name would have led
    assert not any(p.name == "evil.png" for p in instance.parents[1].rglob("*")) and not escaped.exists()
