"""Fixtures shared by the test kinds: a throw-away copy of the project for real DVC runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.http_fixtures import http_server_fixture  # noqa: F401  (registers the `http_server` fixture)

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILES = ("pipeline", "stages", "dvc.yaml", "params.yaml", ".dvcignore", ".gitignore")


class Project:
    """A copy of the repository's pipeline in a temporary git + DVC repository."""

    def __init__(self, path: Path) -> None:
        self.path = path
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

    def set_params(self, **sections: dict) -> None:
        """Merge nested values into params.yaml, e.g. ``set_params(download={"source": "flickr8k"})``."""
        path = self.path / "params.yaml"
        params = yaml.safe_load(path.read_text())
        for section, values in sections.items():
            _merge(params.setdefault(section, {}), values)
        path.write_text(yaml.safe_dump(params, sort_keys=False))


def _merge(into: dict, values: dict) -> None:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
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
