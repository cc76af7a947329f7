"""Out-of-domain pictures: real photos from installed wheels and made ones, stable and loaded offline."""

import re
import socket
import sys

import numpy as np
import pytest
from PIL import Image

from pipeline.data import outside
from pipeline.data.outside import outside_pictures, write_pictures


@pytest.fixture(scope="module")
def pictures():
    return outside_pictures()


@pytest.fixture
def fresh_cache():
    outside.clear_cache()
    yield
    outside.clear_cache()  # the next caller reads the pictures again under normal conditions


def _by_kind(pictures, kind):
    return [p for p in pictures if p.kind == kind]


def _colours(array):
    """Number of distinct RGB triples in an image array."""
    packed = array[..., 0].astype(np.uint32) << 16 | array[..., 1].astype(np.uint32) << 8 | array[..., 2]
    return len(np.unique(packed))


# First in the file, so that a run of this file also imports scikit-image, scikit-learn and matplotlib offline.
def test_loading_with_the_network_blocked_gives_the_same_pictures_as_online(fresh_cache, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access while loading pictures that must ship inside the wheels")

    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    offline = outside_pictures()
    monkeypatch.undo()
    outside.clear_cache()
    online = outside_pictures()
    assert len(offline) >= 20 and [p.name for p in offline] == [p.name for p in online]
    assert all(np.array_equal(np.asarray(a.image), np.asarray(b.image)) for a, b in zip(offline, online))


def test_at_least_twenty_real_photos_from_all_three_packages(pictures):
    photos = _by_kind(pictures, "photo")
    assert len(photos) >= 20
    assert {p.name.split("-")[0] for p in photos} == {"skimage", "sklearn", "matplotlib"}
    assert {"skimage-astronaut", "sklearn-china", "sklearn-flower", "matplotlib-grace-hopper"} <= {
        p.name for p in photos}


def test_every_picture_is_8bit_rgb_and_at_least_64_px_a_side(pictures):
    for picture in pictures:
        array = np.asarray(picture.image)
        assert picture.image.mode == "RGB", picture.name
        assert array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3, picture.name
        assert min(picture.image.size) >= 64, picture.name


def test_photos_hold_detail_not_a_flat_or_blank_frame(pictures):
    for photo in _by_kind(pictures, "photo"):
        array = np.asarray(photo.image)
        assert array.std() > 5, photo.name
        assert _colours(array) > 32, photo.name


def test_names_are_unique_lowercase_and_kinds_are_photo_or_made(pictures):
    names = [p.name for p in pictures]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", name) for name in names), names
    assert {p.kind for p in pictures} == {"photo", "made"}


def test_made_pictures_include_noise_blank_and_text_that_look_like_their_names(pictures):
    made = {p.name: np.asarray(p.image) for p in _by_kind(pictures, "made")}
    assert {"made-noise", "made-blank", "made-text"} <= set(made)
    assert (made["made-blank"] == 255).all()
    noise = made["made-noise"]
    assert _colours(noise) > 0.9 * noise.shape[0] * noise.shape[1]
    text = made["made-text"]
    ink = (text < 64).all(axis=2).mean()
    assert (text > 250).all(axis=2).mean() > 0.7 and 0.005 < ink < 0.2  # mostly white page, some black letters


def test_two_calls_give_identical_pixels_and_independent_copies(pictures):
    again = outside_pictures()
    assert [p.name for p in again] == [p.name for p in pictures]
    for first, second in zip(pictures, again, strict=True):
        assert np.array_equal(np.asarray(first.image), np.asarray(second.image)), first.name
    again[0].image.paste((255, 0, 255), (0, 0, 10, 10))
    assert np.array_equal(np.asarray(outside_pictures()[0].image), np.asarray(pictures[0].image))


def test_a_missing_package_names_the_requirement(fresh_cache, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes `import sklearn.datasets` fail
    with pytest.raises(ModuleNotFoundError, match=r"scikit-learn.*requirements\.txt"):
        outside_pictures()


def test_write_pictures_saves_one_lossless_png_per_picture_named_kind_then_name(pictures, tmp_path):
    folder = tmp_path / "outside"
    paths = write_pictures(folder)
    assert [p.name for p in paths] == [f"{p.name}.png" for p in pictures]
    assert sorted(folder.iterdir()) == sorted(paths)  # no temporary files left behind
    for path, picture in zip(paths, pictures, strict=True):
        with Image.open(path) as saved:
            assert saved.format == "PNG"
            assert np.array_equal(np.asarray(saved.convert("RGB")), np.asarray(picture.image)), path.name
