"""The weights file a ``keras.applications`` encoder loaded is named and hashed for the runs (DVC does not see it).

Keras' own download path runs for real, offline: its ImageNet URL points at a file served on 127.0.0.1 and
its cache at a temporary folder; nothing else is faked.
"""

import hashlib

import h5py
import keras
import numpy as np
import pytest
from keras.src.applications import mobilenet_v3
from keras.src.backend import config as keras_config
from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group
from keras.src.utils import file_utils

from pipeline.models.encoder import PRETRAINED, build_pretrained_encoder, weights_record


def _backbone() -> keras.Model:
    """MobileNetV3Small without its top, as ``build_pretrained_encoder`` asks keras for it, with random weights."""
    keras.utils.set_random_seed(3)
    return keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(224, 224, 3))


def _weights_file(model: keras.Model, path) -> bytes:
    """Write ``model``'s weights in the legacy HDF5 layout keras.applications' files have; return the bytes."""
    with h5py.File(path, "w") as f:
        save_weights_to_hdf5_group(f, model)
    return path.read_bytes()


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """Keras' cache folder (``$KERAS_HOME``, read once at import) moved to a temporary folder."""
    home = tmp_path / "keras-home"
    home.mkdir()
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(home))
    return home


def test_imagenet_weights_keras_downloads_are_named_and_hashed(http_server, keras_home, tmp_path, monkeypatch):
    served = _backbone()
    data = _weights_file(served, tmp_path / "served.h5")
    name = PRETRAINED["mobilenetv3small"].weights_file
    server = http_server({f"mobilenet_v3/{name}": data})
    monkeypatch.setattr(mobilenet_v3, "BASE_WEIGHT_PATH", server.url("mobilenet_v3/"))
    monkeypatch.setitem(mobilenet_v3.WEIGHTS_HASHES, "small_224_1.0_float",
                        ("unused", hashlib.md5(data).hexdigest()))  # keras checks the download against it

    encoder = build_pretrained_encoder("mobilenetv3small", "imagenet")

    assert [r.path for r in server.requests] == [f"/mobilenet_v3/{name}"]  # keras fetched it, from here
    assert (keras_home / "models" / name).read_bytes() == data
    backbone = next(layer for layer in encoder.layers if isinstance(layer, keras.Model))
    assert all(np.array_equal(a, b) for a, b in zip(backbone.get_weights(), served.get_weights()))
    record = weights_record({"encoder": "mobilenetv3small", "weights": "imagenet"})
    assert record == {"weights_file": name, "weights_sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize("kind", sorted(PRETRAINED))
def test_the_weights_file_names_are_those_keras_asks_for(kind, keras_home, monkeypatch):
    asked = []

    def get_file(fname, origin, **kwargs):
        asked.append(fname)
        raise ConnectionAbortedError("offline")  # stop before any download

    monkeypatch.setattr(file_utils, "get_file", get_file)
    with pytest.raises(ConnectionAbortedError):
        build_pretrained_encoder(kind, "imagenet")
    assert asked == [PRETRAINED[kind].weights_file]


def test_a_weights_file_given_by_path_is_hashed(tmp_path):
    path = tmp_path / "my-weights.h5"
    data = _weights_file(_backbone(), path)
    params = {"encoder": "mobilenetv3small", "weights": str(path)}
    build_pretrained_encoder(params["encoder"], params["weights"])  # keras loads weights from a path too
    assert weights_record(params) == {"weights_file": "my-weights.h5",
                                      "weights_sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize("params", [{"encoder": "cnn", "weights": "imagenet"},
                                    {"encoder": "mobilenetv3small", "weights": None}])
def test_no_file_no_record(params):
    assert weights_record(params) == {}


def test_imagenet_weights_missing_from_the_cache_fail_loudly(keras_home):
    with pytest.raises(FileNotFoundError, match=str(keras_home / "models")):
        weights_record({"encoder": "efficientnetb0", "weights": "imagenet"})
