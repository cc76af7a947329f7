"""Fixtures shared by the test kinds: a throw-away copy of the project for real DVC runs, and real tiny
captioners in a temporary MLflow store for the service's and the browser's tests (built once per session)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from tests.http_fixtures import http_server_fixture  # noqa: F401  (registers the `http_server` fixture)

if TYPE_CHECKING:  # tests.tiny_models imports MLflow: only the fixtures that need it load it
    from tests.tiny_models import Captions, Store, TinyModel

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILES = ("pipeline", "stages", "dvc.yaml", "params.yaml", ".dvcignore", ".gitignore")


class Project:
    """A copy of the repository's pipeline in a temporary git + DVC repository."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.first_repro: subprocess.CompletedProcess | None = None  # set by the fixtures that ran one
        bin_dir = str(Path(sys.executable).parent)
        self.env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
                    "DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "TF_CPP_MIN_LOG_LEVEL": "2",
                    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t",
                    "GIT_COMMITTER_EMAIL": "t@localhost"}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a command in the project; fail the test with its output when ``check`` and it fails."""
        done = subprocess.run(args, cwd=self.path, env=self.env, capture_output=True, text=True, timeout=600)
        if check and done.returncode:
            pytest.fail(f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run DVC (from this interpreter's environment) in the project."""
        return self.run(sys.executable, "-m", "dvc", *args, check=check)

    def params(self) -> dict:
        """The project's params.yaml as it is now."""
        return yaml.safe_load((self.path / "params.yaml").read_text())

    def set_params(self, **sections: dict) -> None:
        """Merge nested values into params.yaml, e.g. ``set_params(download={"source": "flickr8k"})``."""
        params = self.params()
        for section, values in sections.items():
            merge(params.setdefault(section, {}), values)
        (self.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def merge(into: dict, values: dict) -> None:
    """Merge nested ``values`` into ``into``, key by key."""
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


def make_project(tmp_path: Path) -> Project:
    """A fresh copy of the pipeline in ``tmp_path/project``: a git and DVC repository, small embedded data."""
    path = tmp_path / "project"
    path.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, path / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, path / name)
    project = Project(path)
    project.run("git", "init", "-q")
    project.dvc("init", "-q")
    project.dvc("config", "core.analytics", "false")
    project.set_params(download={"synthetic": {"num_images": 60}})
    return project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A fresh copy of the pipeline, a git and DVC repository, with a small embedded dataset."""
    return make_project(tmp_path)


GIT_IDENTITY = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")


def copy_project(source: Project, folder: Path, *, store: bool) -> Project:
    """A copy of ``source`` (git, DVC cache, outputs) in ``folder/project``; with its MLflow store or without.

    A copied store still keeps its artifacts in ``source``'s ``mlruns`` (MLflow records absolute locations).
    """
    def skip(directory: str, names: list[str]) -> set[str]:
        here = Path(directory)
        dropped = {"tmp"} if here.name == ".dvc" else set()  # DVC's state and locks name absolute paths
        if here == source.path and not store:
            dropped |= {"mlflow.db", "mlruns"}
        return dropped & set(names)

    path = Path(folder) / "project"
    shutil.copytree(source.path, path, ignore=skip, symlinks=True)
    project = Project(path)
    project.env = {**source.env}
    return project


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The tiny pipeline (``TINY``) after one `dvc repro`, committed, with its store in ``mlflow.db``: never
    change it; ``copy_project`` it. ``first_repro`` is that run's output."""
    from tests.tiny_models import TINY

    project = make_project(tmp_path_factory.mktemp("tiny-pipeline"))
    project.set_params(**TINY)
    project.env.pop("MLFLOW_TRACKING_URI", None)  # the default: sqlite:///mlflow.db in the project
    project.first_repro = project.dvc("repro")
    project.run("git", "add", "-A")
    project.run("git", "commit", "-qm", "tiny pipeline")
    return project


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory, tiny_pipeline: Project) -> dict[str, TinyModel]:
    """Both decoders the tiny `dvc repro` trained, as the bundles evaluate logs (once per session)."""
    from tests.tiny_models import bundles_from_project

    return bundles_from_project(tiny_pipeline.path, tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def shared_store(tmp_path_factory: pytest.TempPathFactory, tiny_models: dict[str, TinyModel]) -> Store:
    """A store for the tests that only read it: version 1 of each name (test BLEU-4 0.11 and 0.14), ``production``."""
    from tests.tiny_models import make_store, register_both

    return register_both(make_store(tmp_path_factory.mktemp("mlflow")), tiny_models,
                         test_bleu4={"captioner-lstm": 0.11, "captioner-transformer": 0.14})  # fmt: skip


@pytest.fixture(scope="session")
def caption_of(shared_store: Store) -> Captions:
    """``caption_of(picture_bytes, model)``: the caption the shared store's production version gives in this process."""
    from tests.tiny_models import Captions

    return Captions(shared_store.uri)


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory, tiny_pipeline: Project) -> Project:
    """The tiny pipeline with untrained decoders, committed; its MLflow store is ``env["MLFLOW_TRACKING_URI"]``.

    A copy of ``tiny_pipeline`` whose decoders were trained again for one epoch with learning rate 0 (they
    learned nothing; the LSTM without XLA, evaluate without the float16 export, to save the jobs' time) into
    a store of its own, so a training job that lets one of them learn
    (``{"decoder": ..., "learning_rate": 0.005, "epochs": 15}``) surely beats its version in production.
    """
    project = copy_project(tiny_pipeline, tmp_path_factory.mktemp("trained"), store=False)
    project.set_params(train={"fit": {"epochs": 1}, "lstm": {"fit": {"epochs": 1, "learning_rate": 0.0, "xla": False}},
                              "transformer": {"fit": {"learning_rate": 0.0}}},
                       evaluate={"float16": False})  # its jobs need neither: the session's repro covers both
    project.env["MLFLOW_TRACKING_URI"] = f"sqlite:///{project.path / 'mlflow.db'}"
    project.dvc("repro")
    project.run("git", "add", "-A")
    project.run("git", "commit", "-qm", "untrained decoders")
    return project
