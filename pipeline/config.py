"""Reading params.yaml: each stage takes its own section and nothing else."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ParamsError

PARAMS_FILE = Path(os.environ.get("IMAGE_TO_AUDIO_PARAMS", "params.yaml"))  # DVC runs stages from the root


def load_params(section: str, path: Path | None = None) -> dict[str, Any]:
    """The ``section`` of params.yaml (the stage's own), as a dict."""
    path = Path(path or PARAMS_FILE)
    with open(path, encoding="utf-8") as f:
        params = yaml.safe_load(f) or {}
    if section not in params:
        raise ParamsError(f"params file {path} has no section {section!r}")
    return params[section]
