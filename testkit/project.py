"""A throw-away copy of the project's pipeline for real DVC runs: a git and DVC repository in a temporary folder.

    project = make_project(tmp_path)                 # pipeline/, stages/, dvc.yaml, params.yaml; git and DVC set up
    project.set_params(train={"fit": {"epochs": 1}})  # merged into its params.yaml
    project.dvc("repro")                             # fails the test with DVC's output if DVC fails
    other = copy_project(project, tmp_path / "b", store=False)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline import QUIET_ENV

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILES = ("pipeline", "stages", "dvc.yaml", "params.yaml", ".dvcignore", ".gitignore")


class Project:
    """A copy of the repository's pipeline in a temporary git + DVC repository."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.first_repro: subprocess.CompletedProcess | None = None  # set by the fixtures that ran one
        bin_dir = str(Path(sys.executable).parent)
        self.env = {**os.environ, **QUIET_ENV, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
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
