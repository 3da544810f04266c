"""The compat tier's fixtures: real Mage (mage_harness.py in .venv-mage) and, for runs, the e2e
tier's real Prefect server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
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


def mage_project(root: Path, pipeline: str, blocks: list[dict], **pipeline_config) -> Path:
    """A new project holding one pipeline of `blocks`, both written by Mage's own code (its data
    dir beside the project)."""
    mage("generate", "project", str(root))
    config = ["--pipeline-config", json.dumps(pipeline_config)] if pipeline_config else []
    data_dir = str(root.parent / ".mage_data")
    mage("generate", "pipeline", "--data-dir", data_dir, str(root), pipeline, "--blocks", json.dumps(blocks), *config)
    return root


@pytest.fixture(scope="session", autouse=True)
def real_mage():
    """The tier needs Mage 0.9.80 in its own venv (`make compat` installs it)."""
    assert MAGE_PYTHON.exists(), "no .venv-mage: run `make compat`, which installs mage-ai==0.9.80 there"
    assert (
        mage("load", str(REPO / "tests" / "fixtures" / "projects" / "standalone_project"), "etl")["mage_ai_version"]
        == "0.9.80"
    )


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """The one normalisation, of representation only: text columns (object under pandas 2, str
    under pandas 3) become object columns with NaN for every missing value (None, NaN, NaT or
    pd.NA, depending on the pandas version, on parquet's reader and on the column's history), and
    datetimes compare in microseconds (pandas 3's unit for parsed text, pandas 2's is ns)."""
    frame = frame.copy()
    for position, dtype in enumerate(frame.dtypes):
        column = frame.iloc[:, position]
        if pd.api.types.is_string_dtype(dtype):  # object too
            frame.isetitem(position, column.astype(object).where(column.notna(), np.nan))
        elif pd.api.types.is_datetime64_any_dtype(dtype):  # pandas 3 parses text to µs, pandas 2 to ns
            frame.isetitem(position, column.dt.as_unit("us"))
    return frame
