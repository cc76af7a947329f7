"""The shared deployment on loopback (testkit/scaleout.py), the tiny pipeline built against it, and Redis."""

from __future__ import annotations

import shutil

import pytest

from testkit.project import ROOT, Project, make_project
from testkit.scaleout import MlflowServer, mlflow_server, postgres, redis_server, s3  # noqa: F401  (registers the fixtures)


@pytest.fixture(scope="session")
def served_pipeline(tmp_path_factory: pytest.TempPathFactory, mlflow_server: MlflowServer) -> Project:  # noqa: F811
    """The tiny pipeline after one `dvc repro` against ``mlflow_server`` (no S3 credentials in its environment),
    with the repository's own ``.dvc/config`` (its remote), committed before (runs carry the commit) and after."""
    from testkit.tiny_models import TINY

    project = make_project(tmp_path_factory.mktemp("served-pipeline"))
    shutil.copy2(ROOT / ".dvc" / "config", project.path / ".dvc" / "config")
    project.set_params(**TINY)
    # what the session's tiny repro covers already: the LSTM's XLA compile and the float16 export
    project.set_params(train={"lstm": {"fit": {"xla": False}}}, evaluate={"float16": False})
    project.env = mlflow_server.client_env(project.env)
    project.run("git", "add", "-A")
    project.run("git", "commit", "-qm", "tiny pipeline")
    project.first_repro = project.dvc("repro")
    project.run("git", "add", "-A")
    project.run("git", "commit", "-qm", "tiny pipeline built against the MLflow server")
    return project
