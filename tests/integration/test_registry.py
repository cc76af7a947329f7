"""The promotion gate on a real MLflow store: better versions take `production`, worse ones do not."""

import mlflow
import pytest
from mlflow import MlflowClient

from pipeline.data.preprocess import CAPTIONS_FILE, fingerprint_test_set
from pipeline.tracking import TEST_SET_TAG
from pipeline.tracking.registry import promote_if_better


class Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input: list[str], params=None) -> list[str]:
        return ["a caption"] * len(model_input)


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_experiment("gate")  # not a stale experiment id left by another test's store
    yield MlflowClient()
    mlflow.set_tracking_uri(None)


def _version(name, score):
    with mlflow.start_run() as run:
        if score is not None:
            mlflow.log_metric("content", score)
        info = mlflow.pyfunc.log_model(name="model", python_model=Constant(), pip_requirements=["mlflow"],
                                       registered_model_name=name)
    return run.info.run_id, int(info.registered_model_version)


def test_gate_promotes_first_and_better_versions_only(client):
    _, v1 = _version("m", 0.5)
    first = promote_if_better(client, "m", v1, "content", 0.5)
    assert first.promoted and first.reason == "no production version yet"
    assert int(client.get_model_version_by_alias("m", "production").version) == v1

    worse_run, v2 = _version("m", 0.4)
    worse = promote_if_better(client, "m", v2, "content", 0.4)
    assert not worse.promoted and worse.production_score == 0.5
    assert int(client.get_model_version_by_alias("m", "production").version) == v1
    run = client.get_run(worse_run)
    assert run.data.tags["gate.promoted"] == "false"
    assert run.data.metrics["gate_production_score"] == 0.5 and run.data.metrics["gate_score"] == 0.4

    _, v3 = _version("m", 0.5)
    assert not promote_if_better(client, "m", v3, "content", 0.5).promoted  # a tie keeps what serves

    better_run, v4 = _version("m", 0.9)
    better = promote_if_better(client, "m", v4, "content", 0.9)
    assert better.promoted and better.production_version == v1
    assert int(client.get_model_version_by_alias("m", "production").version) == v4
    assert client.get_run(better_run).data.tags["gate.promoted"] == "true"


def test_a_nan_score_is_never_promoted(client):
    _, v1 = _version("n", None)
    assert not promote_if_better(client, "n", v1, "content", float("nan")).promoted


def test_a_version_without_the_required_figure_is_beaten(client):
    _, v1 = _version("j", 0.9)
    assert promote_if_better(client, "j", v1, "content", 0.9).promoted
    run2, v2 = _version("j", 0.9)
    judged = promote_if_better(client, "j", v2, "content", 0.9, required="selective_accuracy")
    assert judged.promoted and "has no selective_accuracy" in judged.reason  # a tie, but version 1 has no judge
    client.log_metric(run2, "selective_accuracy", 0.99)
    _, v3 = _version("j", 0.9)
    assert not promote_if_better(client, "j", v3, "content", 0.9, required="selective_accuracy").promoted


def test_a_version_scored_on_another_test_set_is_replaced(client):
    synthetic_run, v1 = _version("d", 0.9)
    client.set_tag(synthetic_run, TEST_SET_TAG, "synthetic test set")
    assert promote_if_better(client, "d", v1, "content", 0.9, test_set="synthetic test set").promoted
    real_run, v2 = _version("d", 0.2)  # real photos score far lower, on other pictures
    client.set_tag(real_run, TEST_SET_TAG, "flickr8k test set")
    switched = promote_if_better(client, "d", v2, "content", 0.2, test_set="flickr8k test set")
    assert switched.promoted and "another test set" in switched.reason
    _, v3 = _version("d", 0.1)
    assert not promote_if_better(client, "d", v3, "content", 0.1, test_set="flickr8k test set").promoted


def test_the_test_set_fingerprint_follows_the_test_rows_only(tmp_path):
    table = "image,caption,split\na.jpg,a red circle,test\nb.jpg,a blue star,train\n"
    (tmp_path / CAPTIONS_FILE).write_text(table)
    first = fingerprint_test_set(tmp_path)
    (tmp_path / CAPTIONS_FILE).write_text(table.replace("a blue star", "a green star"))
    assert fingerprint_test_set(tmp_path) == first
    (tmp_path / CAPTIONS_FILE).write_text(table.replace("a red circle", "a red square"))
    assert fingerprint_test_set(tmp_path) != first


def test_make_run_rebuilds_when_production_was_scored_on_other_data(client, tmp_path):
    from pipeline.bootstrap import stale_production
    from pipeline.names import MODELS

    (tmp_path / CAPTIONS_FILE).write_text("image,caption,split\na.jpg,a red circle,test\n")
    assert stale_production(tmp_path) == list(MODELS)  # nothing registered yet
    for name in MODELS:
        run, version = _version(name, 0.9)
        client.set_tag(run, TEST_SET_TAG, fingerprint_test_set(tmp_path))
        promote_if_better(client, name, version, "content", 0.9)
    assert stale_production(tmp_path) == []
    (tmp_path / CAPTIONS_FILE).write_text("image,caption,split\nb.jpg,a dog runs,test\n")  # other data
    assert stale_production(tmp_path) == list(MODELS)
