"""The real-data path end to end: Flickr8k's two archives of real photographs served on 127.0.0.1, the whole
`dvc repro` with a ``keras.applications`` encoder, both models registered and promoted on BLEU-4 (real data has
no scenes), and the service converting real photos with them.

The encoder is MobileNetV3Small (the cheapest of ``PRETRAINED`` at its 224-pixel input) with random weights
read from a file, as ImageNet's would be read from Keras' cache: the file's sha256 must reach the MLflow runs.
"""

import copy
import hashlib
import io
import json

import pytest

from pipeline.names import DECODERS, MODELS, registered_name
from testkit.project import make_project
from testkit.tiny_models import TINY
from tests.flickr8k_fixtures import build_photo_archives

STAGES = ("download", "preprocess", "featurize", "train@lstm", "train@transformer", "evaluate")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return build_photo_archives(tmp_path_factory.mktemp("flickr8k-photos"))


def _random_weights(path):
    """MobileNetV3Small's weights without its top, random, in the HDF5 layout of keras.applications' files."""
    import h5py
    import keras
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

    keras.utils.set_random_seed(5)
    backbone = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(224, 224, 3))
    with h5py.File(path, "w") as f:
        save_weights_to_hdf5_group(f, backbone)
    return path


def _params(server, photos, weights):
    """TINY's decoders and decoding, on the served archives with MobileNetV3Small; the gate left to choose."""
    params = copy.deepcopy({section: TINY[section] for section in ("preprocess", "train", "evaluate")})
    archives = []
    for path in (photos.dataset_zip, photos.text_zip):
        data = path.read_bytes()
        archives.append({"url": server.url(path.name), "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    params["download"] = {"source": "flickr8k", "flickr8k": {"archives": archives, "timeout": 10, "retries": 1}}
    params["featurize"] = {"encoder": "mobilenetv3small", "weights": str(weights)}
    params["train"]["fit"].update(epochs=8, patience=8)  # the first epoch's tracing is most of a decoder's time
    params["train"]["lstm"]["fit"] = {"epochs": 8, "xla": False}  # XLA's compile costs more than it saves here
    params["evaluate"].update(gate_metric="auto", float16=False)
    return params


def test_real_photos_in_flickr8k_layout_run_the_whole_pipeline_and_the_app_converts_with_both_models(
        tmp_path, http_server, photos):
    from mlflow import MlflowClient

    from app import create_app
    from pipeline.tracking import PRODUCTION
    from testkit.service import settings

    server = http_server({p.name: p.read_bytes() for p in (photos.dataset_zip, photos.text_zip)})
    weights = _random_weights(tmp_path / "mobilenet-random.h5")
    project = make_project(tmp_path)
    project.set_params(**_params(server, photos, weights))
    project.env.pop("MLFLOW_TRACKING_URI", None)  # the default: sqlite:///mlflow.db in the project
    done = project.dvc("repro")

    for stage in STAGES:
        assert f"Running stage '{stage}'" in done.stdout
    assert sorted(r.path for r in server.requests if r.method == "GET") == ["/Flickr8k_Dataset.zip",
                                                                            "/Flickr8k_text.zip"]
    counts = json.loads((project.path / "reports/data.json").read_text())
    assert counts["images"] == len(photos.images) and counts["skipped"] == 0
    encoder = json.loads((project.path / "models/encoder/config.json").read_text())
    assert encoder["grid_shape"] == [49, 576]  # MobileNetV3Small's 7 x 7 grid at 224 pixels
    metrics = json.loads((project.path / "reports/metrics.json").read_text())
    scores = (project.path / "reports/scores.csv").read_text().splitlines()
    assert scores[0].startswith("decoder,gate_score,bleu1,") and "content" not in scores[0]
    plots = json.loads(project.dvc("plots", "show", "--json").stdout)
    assert not plots.get("errors") and plots["data"]["reports/scores.csv"]  # dvc.yaml's y field exists

    sha256 = hashlib.sha256(weights.read_bytes()).hexdigest()
    uri = f"sqlite:///{project.path / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    versions = {}
    for kind in DECODERS:
        name = registered_name(kind)
        assert metrics[kind]["gate_metric"] == "bleu4" and "content" not in metrics[kind]
        assert metrics[kind]["promoted"] is True
        assert (project.path / f"reports/samples/{kind}.png").is_file()
        version = client.get_model_version_by_alias(name, PRODUCTION)
        run = client.get_run(version.run_id)
        assert run.data.tags["gate.metric"] == "test_bleu4" and run.data.tags["gate.promoted"] == "true"
        assert run.data.metrics["test_bleu4"] == pytest.approx(metrics[kind]["bleu4"])
        assert run.data.params["featurize.encoder"] == "mobilenetv3small"
        assert run.data.params["featurize.weights_file"] == weights.name
        assert run.data.params["featurize.weights_sha256"] == sha256
        versions[name] = str(version.version)

    app = create_app(settings(uri), instance_path=tmp_path / "instance")
    photo = project.path / "data/raw/Flickr8k_Dataset/Flicker8k_Dataset" / photos.splits["test"][0]
    for name in MODELS:
        form = {"image": (io.BytesIO(photo.read_bytes()), photo.name), "model": name, "format": "wav"}
        answer = app.test_client().post("/api/convert", data=form, content_type="multipart/form-data")
        assert answer.status_code == 200, answer.json
        body = answer.json
        assert body["model"] == {"name": name, "version": versions[name]}
        assert isinstance(body["caption"], str) and isinstance(body["in_domain"], bool)  # "" is a caption too
        assert 0 <= body["confidence"] <= 1 and body["spoken"]
