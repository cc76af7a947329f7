"""dvc.yaml declares every project module each stage's command imports, directly or not (so an edit reruns it)."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The project file of a dotted module name, or None for a module outside the project."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path, root: Path = ROOT) -> set[str]:
    """Every module name a file imports, anywhere in it (inside functions too), relative imports resolved."""
    package = path.relative_to(root).with_suffix("").parts[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return names


@functools.cache
def stage_modules(start: Path, root: Path = ROOT) -> frozenset[Path]:
    """The project files ``start`` imports, directly or not, itself and each package's ``__init__`` included."""
    seen: set[Path] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_names(path, root):
            parts = name.split(".")
            todo += [f for i in range(1, len(parts) + 1) if (f := module_file(".".join(parts[:i]), root))]
    return frozenset(seen)


def undeclared(dvc: dict, root: Path = ROOT) -> dict[str, list[str]]:
    """Per stage, the imported project files no ``deps`` entry covers (a folder entry covers what is under it)."""
    missing = {}
    for stage, spec in dvc["stages"].items():
        body = spec.get("do", spec)
        command = re.search(r"python -m ([\w.]+)", body["cmd"])
        deps = [root / d for d in body.get("deps", [])]
        files = stage_modules(module_file(command.group(1), root), root)
        uncovered = sorted(str(f.relative_to(root)) for f in files
                           if not any(f == d or d in f.parents for d in deps))
        if uncovered:
            missing[stage] = uncovered
    return missing


def test_every_stage_declares_every_module_it_imports() -> None:
    assert undeclared(yaml.safe_load((ROOT / "dvc.yaml").read_text())) == {}


@pytest.mark.parametrize("stage", ["download", "preprocess", "featurize", "train", "evaluate"])
def test_removing_any_declared_module_is_caught(stage: str) -> None:
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    body = dvc["stages"][stage].get("do", dvc["stages"][stage])
    modules = [d for d in body["deps"] if d.endswith(".py") or (ROOT / d / "__init__.py").is_file()]
    for dep in modules:
        body["deps"] = [d for d in modules if d != dep] + [d for d in body["deps"] if d not in modules]
        assert stage in undeclared(dvc), f"{stage} without {dep} still passes"


def test_imports_inside_functions_and_relative_imports_count(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/__init__.py").write_text("")
    (tmp_path / "pkg/a.py").write_text("def f():\n    from . import b\n")
    (tmp_path / "pkg/b.py").write_text("from .c import thing\n")
    (tmp_path / "pkg/c.py").write_text("thing = 1\n")
    found = {p.name for p in stage_modules(tmp_path / "pkg/a.py", tmp_path)}
    assert found == {"__init__.py", "a.py", "b.py", "c.py"}
