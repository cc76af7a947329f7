"""POST /api/convert with real tiny Keras captioners from a real MLflow store, and real espeak-ng."""

import io
import wave
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from pipeline.data.outside import outside_pictures
from pipeline.spoken import PHRASES, compose
from testkit.pictures import BLUE, RED, YELLOW, picture
from testkit.signs import draw_sign, fonts, photos
from testkit.tiny_models import EmptyCaptioner, make_store, register, vocabulary_words


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


@pytest.mark.parametrize("lang", ["fr", "de", "es"])
def test_a_language_the_model_does_not_describe_in_gets_400_listing_the_available(convert, lang):
    answer = convert(format="wav", lang=lang)
    assert answer.status_code == 400 and answer.json["error"]["code"] == "unsupported_language"
    assert answer.json["error"]["message"] == "lang: this model describes pictures only in en; choose one of those"


def test_what_is_spoken_is_the_answers_spoken_sentence_in_its_language(app, client, convert):
    body = convert(picture("PNG", BLUE), format="wav").json
    assert body["speech"]["lang"] == "en" and body["spoken"]
    expected = app.extensions["speaker"].synthesize(body["spoken"], lang="en", engine="espeak", fmt="wav")
    assert client.get(body["audio_url"]).data == expected.audio  # the same text, the same English voice


def test_each_answer_says_whether_the_model_knows_the_picture_and_how_sure_it_is(convert):
    body = convert(picture("PNG", BLUE)).json
    assert isinstance(body["in_domain"], bool) and 0 <= body["confidence"] <= 1
    assert body["spoken"] in (compose(body["caption"], body["in_domain"], sure, "en").text for sure in (True, False))


@pytest.mark.parametrize("name", ["skimage-astronaut", "skimage-coffee", "sklearn-china", "matplotlib-grace-hopper"])
def test_a_real_photo_is_out_of_domain_and_its_caption_is_not_spoken(convert, name):
    photo = next(p for p in outside_pictures() if p.name == name).image
    data = io.BytesIO()
    photo.save(data, "JPEG")
    body = convert(data.getvalue(), filename="photo.jpg").json
    assert body["in_domain"] is False
    assert body["spoken"] == PHRASES["en"]["unknown"] and body["caption"] not in body["spoken"]


def test_the_result_is_kept_with_caption_and_zip(client, convert, caption_of):
    data = picture("PNG", RED)
    body = convert(data, format="wav").json
    expected = caption_of(data)
    caption = client.get(body["caption_url"])
    assert caption.status_code == 200 and caption.mimetype == "text/plain"
    assert body["caption"] == expected
    labelled = f"Spoken: {body['spoken']}\nModel's guess: {expected}\n"
    assert caption.get_data(as_text=True) == labelled  # both, labelled

    archive = client.get(body["zip_url"])
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.data)) as z:
        assert sorted(z.namelist()) == ["audio.wav", "caption.txt", "image.jpg"]
        assert z.read("caption.txt").decode() == labelled
        assert z.read("audio.wav") == client.get(body["audio_url"]).data
    assert body["id"] in archive.headers["Content-Disposition"]


def test_the_clients_file_name_is_never_a_path(app, convert):
    body = convert(filename="../../../../etc/evil.png").json
    instance = Path(app.instance_path)
    assert sorted(p.name for p in (instance / "results" / body["id"]).iterdir()) == ["audio.mp3", "caption.txt",
                                                                                   "image.jpg"]
    escaped = instance / "results" / body["id"] / "../../../../etc"  # where the name would have led
    assert not any(p.name == "evil.png" for p in instance.parents[1].rglob("*")) and not escaped.exists()


def test_a_model_that_returns_an_empty_caption_gets_a_200_saying_the_picture_cannot_be_described(make_app, tmp_path,
                                                                                                 tiny_models):
    store = make_store(tmp_path / "mlflow")
    register(store, "captioner-lstm", tiny_models["lstm"], python_model=EmptyCaptioner)
    app = make_app(store, MODEL_NAMES=["captioner-lstm"], DEFAULT_MODEL="captioner-lstm")
    form = {"image": (io.BytesIO(picture("PNG", RED)), "photo.png")}
    answer = app.test_client().post("/api/convert", data=form, content_type="multipart/form-data")
    assert answer.status_code == 200, answer.json
    assert answer.json["caption"] == "" and answer.json["spoken"] == PHRASES["en"]["empty"]


def _jpeg(image) -> bytes:
    data = io.BytesIO()
    image.save(data, "JPEG", quality=92)
    return data.getvalue()


def test_with_text_on_the_sign_in_the_photo_is_read_and_spoken(convert):
    sign = draw_sign(photos()["rocket"], "EXIT 12 WEST", fonts()[0], height=0.08)
    body = convert(_jpeg(sign), filename="sign.jpg", text="on").json
    assert body["text"] == "EXIT 12 WEST"
    assert body["spoken"].endswith("The text reads: EXIT 12 WEST.")


def test_with_text_off_nothing_is_read_and_the_reader_is_never_loaded(make_app):
    app = make_app()
    form = {"image": (io.BytesIO(_jpeg(draw_sign(photos()["rocket"], "EXIT 12", fonts()[0]))), "sign.jpg"),
            "text": "off"}
    body = app.test_client().post("/api/convert", data=form, content_type="multipart/form-data").json
    assert body["text"] == "" and "text reads" not in body["spoken"]
    assert app.extensions["reader"]._reader is None  # text=off paid nothing for it


def test_with_text_off_a_big_photo_is_decoded_only_as_large_as_the_kept_picture(app, client, convert, monkeypatch):
    import app.api.convert as view

    sides, decode = [], view.decode_image
    monkeypatch.setattr(view, "decode_image", lambda data, pixels, side: sides.append(side) or decode(data, pixels, side))
    body = convert(picture("JPEG", size=(1800, 1200)), filename="photo.jpg", text="off").json
    assert sides == [app.config["RESULT_IMAGE_MAX_SIDE"]] < [app.config["DECODE_MAX_SIDE"]]
    with Image.open(io.BytesIO(client.get(body["image_url"]).data)) as kept:
        assert kept.size == (1280, 853)  # the kept picture is as before


@pytest.mark.parametrize("value", ["yes", "onn", "1", "<script>"])
def test_another_text_value_gets_400_naming_the_choices(convert, value):
    answer = convert(text=value)
    assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_text_option"
    assert "on, off" in answer.json["error"]["message"] and value not in answer.json["error"]["message"]


def test_the_models_list_names_the_reader_and_each_models_languages(client):
    body = client.get("/api/models").json
    assert all(model["languages"] == ["en"] for model in body["models"])
    assert body["reader"]["package"] == "rapidocr-onnxruntime" and body["reader"]["version"] == "1.4.4"
