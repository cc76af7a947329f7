"""The notebooks in ``notebooks/`` run top to bottom in a tiny project after `dvc repro` (its real MLflow store)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from testkit.project import ROOT, Project, copy_project

NOTEBOOKS = ROOT / "notebooks"
KERNEL = "python3"
CELL_TIMEOUT = 180  # seconds; the slowest cell (two epochs of the tiny decoder, traced) takes about 15


@pytest.fixture(scope="module")
def notebook_project(tmp_path_factory: pytest.TempPathFactory, tiny_pipeline: Project) -> Project:
    """A copy of the tiny pipeline (outputs and MLflow store) with ``notebooks/`` copied in; the notebooks only read it."""
    project = copy_project(tiny_pipeline, tmp_path_factory.mktemp("notebooks"), store=True)
    shutil.copytree(NOTEBOOKS, project.path / "notebooks")
    project.env["MLFLOW_TRACKING_URI"] = f"sqlite:///{project.path / 'mlflow.db'}"
    return project


def run_notebook(project: Project, name: str) -> tuple[nbformat.NotebookNode, str]:
    """Execute ``notebooks/<name>`` of ``project`` as Jupyter would (working folder: the notebook's); it and its text."""
    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    command = spec.argv[0]  # jupyter_client starts "python" as this interpreter
    assert command in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}", sys.executable), (
        f"kernel {KERNEL!r} ({spec.resource_dir}) runs {command}, not this venv's Python")
    path = project.path / "notebooks" / name
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, startup_timeout=120, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=project.env)  # raises CellExecutionError, with the cell and its traceback, if a cell fails
    text = "".join(output.get("text", "") + output.get("data", {}).get("text/plain", "")
                   for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs)
    assert f"project root: {project.path}\n" in text  # the copy's outputs and its own pipeline/, not the repository's
    return notebook, text


def images_shown(notebook: nbformat.NotebookNode) -> int:
    """How many images the executed notebook displayed."""
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
    assert notebook.metadata.kernelspec.name == KERNEL


def test_data_exploration(notebook_project: Project) -> None:
    notebook, text = run_notebook(notebook_project, "data_exploration.ipynb")
    assert "success: True" in text and "'images': 60" in text  # the tiny project's own validation report
    assert "tokens:" in text and "official layout, images in data/raw/Flickr8k_Dataset/Flicker8k_Dataset" in text
    assert images_shown(notebook) >= 2  # the caption lengths and the sample images


def test_model_prototyping(notebook_project: Project) -> None:
    notebook, text = run_notebook(notebook_project, "model_prototyping.ipynb")
    assert "input: (None, 32, 32, 3)" in text  # the tiny project's encoder, loaded from its models/encoder
    assert "'val_loss': [" in text  # the prototype trained, with a dev split
    assert text.count("    prototype:") == text.count("    train@lstm:") == 4  # four test images, both captioned
    assert images_shown(notebook) >= 1


def test_evaluation(notebook_project: Project) -> None:
    notebook, text = run_notebook(notebook_project, "evaluation.ipynb")
    assert f"tracking URI: {notebook_project.env['MLFLOW_TRACKING_URI']}" in text
    assert "2 runs" in text  # the tiny `dvc repro` trained and evaluated each decoder once
    for decoder in ("lstm", "transformer"):
        assert f"captioner-{decoder}: version 1, test content" in text
        row = next(line for line in text.splitlines() if line.startswith(f"{decoder} "))
        assert len(row.split()) == 1 + 3 + 5, row  # bleu4, cider_d, content and the five scene types
    assert "content_relation" in text and "content_three_distinct" in text
    assert images_shown(notebook) >= 3  # the bar chart and both sample sheets
