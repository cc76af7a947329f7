"""Who may import whom among the support code: bench/ uses testkit/, never tests/; no test imports a test module."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    """The absolute module names a Python file imports, at any depth (inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_imported_modules_sees_every_kind_of_import(tmp_path: Path):
    source = tmp_path / "m.py"
    source.write_text("import tests\ndef f():\n    from tests.app import conftest\nfrom . import x\n")
    assert imported_modules(source) == {"tests", "tests.app", "tests.app.conftest"}


@pytest.mark.parametrize("path", sorted((ROOT / "bench").glob("*.py")), ids=lambda path: path.name)
def test_no_bench_file_imports_tests(path: Path):
    wrong = sorted(name for name in imported_modules(path) if name == "tests" or name.startswith("tests."))
    assert not wrong, f"bench/{path.name} imports {wrong}: move what it needs into testkit/"


def test_no_test_module_or_conftest_is_imported():
    modules = [path for path in sorted((ROOT / "tests").rglob("*.py")) if "node_modules" not in path.parts]
    wrong = {}
    for path in modules:
        names = imported_modules(path)
        found = sorted(name for name in names if name.startswith("tests.")
                       and name.rsplit(".", 1)[-1].startswith(("test_", "conftest")))
        if found:
            wrong[str(path.relative_to(ROOT))] = found
    assert not wrong, f"import helpers from testkit/ or share fixtures in a conftest instead: {wrong}"
