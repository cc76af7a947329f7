"""The pipeline against a shared MLflow server: runs and registry in PostgreSQL, artifacts proxied to S3."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from pipeline.names import MODELS as NAMES
from pipeline.tracking import PRODUCTION, TEST_SET_TAG
from testkit.pictures import picture
from testkit.project import Project
from testkit.scaleout import S3_CREDENTIALS, MlflowServer, MotoS3, Postgres
from testkit.tiny_models import load_captioner


def test_the_pipeline_registers_and_promotes_both_models_on_the_server(served_pipeline: Project,
                                                                        mlflow_server: MlflowServer) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_server.url, mlflow_server.url)
    metrics = json.loads((served_pipeline.path / "reports" / "metrics.json").read_text())
    built_at = served_pipeline.run("git", "rev-parse", "HEAD~1").stdout.strip()  # the commit `dvc repro` ran on
    for name in NAMES:
        version = client.get_model_version_by_alias(name, PRODUCTION)
        tags = client.get_run(version.run_id).data.tags
        assert tags["gate.promoted"] == "true" and tags["gate.reason"] == "no production version yet"
        assert metrics[name.removeprefix("captioner-")]["promoted"] is True
        # lineage: the project's commit and DVC's hashes of the data the decoder was trained on
        assert tags["git.commit"] == built_at and "git.dirty" not in tags and tags[TEST_SET_TAG]
        assert {"dvc.data/processed", "dvc.data/features", "dvc.models/encoder"} <= set(tags)


def test_runs_and_versions_are_in_postgresql(served_pipeline: Project, postgres: Postgres) -> None:
    import psycopg

    with psycopg.connect(postgres.url("mlflow")) as connection:
        names = {row[0] for row in connection.execute("SELECT name FROM registered_models")}
        aliases = {row[0] for row in connection.execute("SELECT name FROM registered_model_aliases "
                                                       "WHERE alias = %s", (PRODUCTION,))}
        runs = connection.execute("SELECT count(*) FROM runs WHERE status = 'FINISHED'").fetchone()[0]
    assert names == aliases == set(NAMES)
    assert runs >= 2


def test_the_models_artifacts_are_in_the_bucket_behind_the_server(served_pipeline: Project,
                                                                   mlflow_server: MlflowServer, s3: MotoS3) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_server.url, mlflow_server.url)
    keys = set(s3.keys(mlflow_server.bucket, mlflow_server.prefix + "/"))
    for name in NAMES:
        version = client.get_model_version_by_alias(name, PRODUCTION)
        location = client.get_model_version_download_uri(name, version.version)
        if location.startswith("models:/"):  # a logged model's id: its artifacts lie elsewhere
            location = client.get_logged_model(location.removeprefix("models:/").strip("/")).artifact_location
        assert location.startswith("mlflow-artifacts:/")  # the server's proxy, not a bucket the client must reach
        assert f"{mlflow_server.prefix}/{location.removeprefix('mlflow-artifacts:/').strip('/')}/MLmodel" in keys


@pytest.mark.parametrize("name", NAMES)
def test_a_production_model_loads_through_the_server_without_bucket_credentials(
        served_pipeline: Project, mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    for key in (*S3_CREDENTIALS, "MLFLOW_S3_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    captioner = load_captioner(mlflow_server.url, name)
    with Image.open(io.BytesIO(picture())) as image:
        caption = captioner.caption_images([image])[0]
    assert captioner.info["decoder"] == name.removeprefix("captioner-")
    assert isinstance(caption, str) and caption.strip()
