"""The compat tier's fixtures: real Mage (mage_harness.py in .venv-mage) and, for runs, the e2e
tier's real Prefect server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import postgres, prefect_server  # noqa: F401 (fixtures of this tier too)

HERE = Path(__file__).parent
REPO = HERE.parents[1]
MAGE_PYTHON = REPO / ".venv-mage" / "bin" / "python"


def mage(*args: str, cwd: Path | None = None, timeout: float = 600) -> dict:
    """What real Mage says: one mage_harness.py command, its JSON answer."""
    done = subprocess.run(
        [str(MAGE_PYTHON), str(HERE / "mage_harness.py"), *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=timeout,
    )
    assert done.stdout.strip(), f"mage_harness {args[0]} printed nothing:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout)


@pytest.fixture(scope="session", autouse=True)
def real_mage():
    """The tier needs Mage 0.9.80 in its own venv (`make compat` installs it)."""
    assert MAGE_PYTHON.exists(), "no .venv-mage: run `make compat`, which installs mage-ai==0.9.80 there"
    assert (
        mage("load", str(REPO / "tests" / "fixtures" / "projects" / "standalone_project"), "etl")["mage_ai_version"]
        == "0.9.80"
    )
