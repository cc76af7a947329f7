"""The offline text reader, with rapidocr's real models, on signs drawn onto real photos."""

from __future__ import annotations

import io
import math
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from pipeline.reading import TextReader
from testkit.signs import PHOTO_NAMES, draw_sign, fonts, photos

# Words, photo, colours, tilt in degrees: one sign per photo, two lines on the first, two signs hung askew.
SIGNS = [("NO PARKING\nANY TIME", "coffee", "white", 0), ("OPEN 24 HOURS", "rocket", "green", 4),
         ("Main Street", "chelsea", "blue", -3), ("BUS STOP 42", "camera", "red", 0)]


def words(sign: str) -> str:
    return " ".join(sign.split())


@pytest.fixture(scope="module")
def reader() -> TextReader:
    reader = TextReader()
    reader.warm_up()
    return reader


@pytest.fixture(scope="module")
def pictures() -> dict[str, Image.Image]:
    return photos()


@pytest.fixture(scope="module")
def parking(pictures) -> Image.Image:
    return draw_sign(pictures["coffee"], "NO PARKING\nANY TIME", fonts()[0], height=0.06)


class Spy:
    """Stands in for the reader's engine and keeps the shape of every array it is given."""

    def __init__(self, engine) -> None:
        self.engine, self.shapes = engine, []

    def __call__(self, picture: np.ndarray, **settings):
        self.shapes.append(picture.shape)
        return self.engine(picture, **settings)

    def __getattr__(self, name: str):
        return getattr(self.engine, name)


@pytest.mark.parametrize("font", fonts(), ids=lambda path: path.stem)
def test_signs_in_each_font_are_read_word_for_word_with_single_spaces(reader, pictures, font):
    for sign, photo, scheme, angle in SIGNS:
        reading = reader.read(draw_sign(pictures[photo], sign, font, height=0.07, scheme=scheme, angle=angle))
        assert reading.text.upper() == words(sign).upper(), (sign, reading)


def test_spaces_the_recogniser_drops_are_put_back_from_the_gaps_between_letters(reader, parking, monkeypatch):
    ours = reader.read(parking).text
    monkeypatch.setattr(reader, "word_gap", math.inf)  # only the recogniser's own spaces
    alone = reader.read(parking).text
    assert ours == "NO PARKING ANY TIME"
    assert alone.replace(" ", "") == ours.replace(" ", "") and alone != ours


@pytest.mark.parametrize("name", PHOTO_NAMES)
def test_a_photo_without_text_reads_as_nothing(reader, pictures, name):
    reading = reader.read(pictures[name])
    assert (reading.text, reading.lines) == ("", ())
    assert reading.seconds > 0


def test_lines_read_top_to_bottom_and_signs_side_by_side_left_to_right(reader, pictures):
    font = fonts()[0]
    picture = draw_sign(pictures["coffee"], "TAXI", font, height=0.08, where=(0.6, 0.1), jpeg_quality=None)
    picture = draw_sign(picture, "EXIT", font, height=0.08, where=(0.05, 0.1), jpeg_quality=None)
    picture = draw_sign(picture, "Town Hall", font, height=0.08, where=(0.3, 0.7))
    reading = reader.read(picture)
    assert reading.text == "EXIT TAXI Town Hall"
    assert [line.text for line in reading.lines] == ["EXIT TAXI", "Town Hall"]


def test_a_picture_larger_than_max_side_is_shrunk_to_it_before_reading(reader, parking, monkeypatch):
    spy = Spy(reader.engine)
    monkeypatch.setattr(reader, "engine", spy)
    large = parking.resize((3000, 2000), Image.Resampling.LANCZOS)
    assert reader.max_side < 3000
    assert reader.read(large).text == "NO PARKING ANY TIME"
    assert reader.read(parking).text == "NO PARKING ANY TIME"
    assert spy.shapes == [(round(2000 * reader.max_side / 3000), reader.max_side, 3), (400, 600, 3)]  # not enlarged


def sixteen_bit(picture: Image.Image) -> Image.Image:
    return Image.fromarray(np.asarray(picture.convert("L"), dtype=np.uint16) * 257)  # mode I;16


def turned_with_exif(picture: Image.Image) -> Image.Image:
    """The picture stored turned a quarter, with the EXIF orientation (6) that tells a viewer to turn it back."""
    stored = picture.transpose(Image.Transpose.ROTATE_90)
    stored.getexif()[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=stored.getexif().tobytes())
    return Image.open(buffer)


@pytest.mark.parametrize("convert", [lambda p: p.convert("RGBA"), lambda p: p.convert("L"),
                                     lambda p: p.convert("P", palette=Image.Palette.ADAPTIVE), sixteen_bit,
                                     turned_with_exif], ids=["RGBA", "L", "P", "I;16", "EXIF-turned"])
def test_any_mode_and_exif_orientation_read_the_same_words(reader, parking, convert):
    assert reader.read(convert(parking)).text == "NO PARKING ANY TIME"


def test_several_threads_reading_at_once_get_what_one_thread_gets(reader, pictures):
    signs = [draw_sign(pictures[photo], sign, fonts()[1], scheme=scheme) for sign, photo, scheme, _ in SIGNS]
    alone = [reader.read(picture).text for picture in signs]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda picture: reader.read(picture).text, signs + signs[::-1]))
    assert together == alone + alone[::-1]
    assert [text.upper() for text in alone] == [words(sign).upper() for sign, *_ in SIGNS]


def test_lines_read_with_less_than_min_confidence_are_left_out(reader, parking, monkeypatch):
    lines = reader.read(parking).lines
    assert len(lines) == 2 and lines[0].confidence != lines[1].confidence
    sure, unsure = sorted(lines, key=lambda line: -line.confidence)
    monkeypatch.setattr(reader, "min_confidence", (sure.confidence + unsure.confidence) / 2)
    assert [line.text for line in reader.read(parking).lines] == [sure.text]
    monkeypatch.setattr(reader, "min_confidence", 1.01)
    assert reader.read(parking).text == ""


def test_the_reader_describes_its_package_version_and_models(reader):
    described = reader.describe()
    assert (described["package"], described["version"]) == ("rapidocr-onnxruntime", "1.4.4")
    assert described["models"] == ["ch_PP-OCRv4_det_infer.onnx", "ch_ppocr_mobile_v2.0_cls_infer.onnx",
                                   "ch_PP-OCRv4_rec_infer.onnx"]
    assert described["max_side"] == reader.max_side


def test_building_and_warming_a_reader_prints_and_warns_nothing(capfd):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TextReader(max_side=1000).warm_up()
    assert capfd.readouterr() == ("", "")
