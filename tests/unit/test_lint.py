"""pyflakes over our own code: undefined names (a NameError only a deployment run would hit) and
unused imports fail the suite. Fixture block files are Mage code, left out on purpose."""

from __future__ import annotations

from pathlib import Path

from pyflakes.api import checkPath
from pyflakes.reporter import Reporter

REPO = Path(__file__).parents[2]
CHECKED = ["mage_prefect", "benchmarks", "tests/unit", "tests/bad_inputs.py", "tests/e2e/conftest.py",
           "tests/e2e/postgres.py", *[f"tests/e2e/{path.name}" for path in (REPO / "tests" / "e2e").glob("test_*.py")],
           *[f"tests/compat/{path.name}" for path in (REPO / "tests" / "compat").glob("*.py") if path.name != "conftest.py"]]


class _Collect(Reporter):
    def __init__(self):
        self.problems: list[str] = []

    def unexpectedError(self, filename, message):
        self.problems.append(f"{filename}: {message}")

    def syntaxError(self, filename, message, lineno, offset, text):
        self.problems.append(f"{filename}:{lineno}: {message}")

    def flake(self, message):
        self.problems.append(str(message))


def test_our_code_has_no_undefined_names_or_unused_imports():
    reporter = _Collect()
    for target in CHECKED:
        for path in ([REPO / target] if target.endswith(".py") else sorted((REPO / target).rglob("*.py"))):
            checkPath(str(path), reporter)
    assert reporter.problems == []
