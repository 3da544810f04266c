"""The Makefile's two commands: `make demo` installs only what the example project needs."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

REPO = Path(__file__).parents[2]
DEV_TOOLS = {
    "pytest",
    "pytest-timeout",
    "moto",
    "ruff",
    "import-linter",
    "aiosmtpd",
    "prefect-aws",
    "gcp-storage-emulator",
}


def test_make_demo_installs_no_test_or_dev_dependency():
    dry = subprocess.run(["make", "-n", "-B", "demo"], cwd=REPO, capture_output=True, text=True, check=True)
    installs = [line for line in dry.stdout.splitlines() if "pip install" in line]
    assert len(installs) == 1, dry.stdout
    extras = re.search(r"-e '\.\[([\w,]+)\]'", installs[0])[1].split(",")
    optional = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    installed = {re.split(r"[<>=\[ ]", requirement)[0] for extra in extras for requirement in optional[extra]}
    assert "mlflow" in installed and "scikit-learn" in installed and "duckdb" in installed  # the demo's needs
    assert not installed & DEV_TOOLS
