"""The package's shape: one-way layers (pyproject's import-linter contract, README "Code layout"),
no import cycles (lazy imports inside functions included), and short functions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).parents[2]


def test_layers_import_only_downwards():
    done = subprocess.run([Path(sys.executable).with_name("lint-imports")], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]


def test_no_module_imports_itself_through_others():
    graph = grimp.build_graph("mage_prefect")
    cycles = sorted(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if imported != module and graph.find_shortest_chain(importer=imported, imported=module)
    )
    assert cycles == []


def test_no_function_is_longer_than_sixty_lines():
    import ast

    long = [
        f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in sorted((REPO / "mage_prefect").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 60
    ]
    assert long == []
