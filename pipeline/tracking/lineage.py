"""Tags that trace a run back to its exact inputs: the git commit and DVC's hashes of the data."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import yaml

log = logging.getLogger(__name__)


def git_commit(cwd: Path = Path(".")) -> dict[str, str]:
    """``git.commit`` (and ``git.dirty`` when the work tree has changes); empty outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        log.warning("not a git checkout: runs will carry no commit tag")
        return {}
    return {"git.commit": commit, **({"git.dirty": "true"} if dirty else {})}


def dvc_hashes(paths: list[str], lock_file: Path = Path("dvc.lock")) -> dict[str, str]:
    """``dvc.<path>`` -> md5 that dvc.lock records for each of ``paths`` (as some stage's output)."""
    if not lock_file.is_file():
        return {}
    stages = (yaml.safe_load(lock_file.read_text()) or {}).get("stages", {})
    recorded = {out["path"]: out.get("md5", "") for stage in stages.values() for out in stage.get("outs", [])}
    return {f"dvc.{p}": recorded[p] for p in paths if p in recorded}
