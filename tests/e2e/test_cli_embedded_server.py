"""`mage-prefect run` once on Prefect's embedded (ephemeral) server, as `make demo` does."""

from __future__ import annotations

import json
import os

import pytest

from .conftest import mage_prefect

pytestmark = pytest.mark.e2e


def test_run_and_output_on_the_embedded_server(demo_project, tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")

    result = mage_prefect("run", demo_project, "train_model", "--var", "n_rows=2000", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Starting temporary server" in result.stdout + result.stderr
    assert "Pipeline 'train_model'" in result.stdout and "✓ Completed  export_report" in result.stdout

    shown = mage_prefect("output", demo_project, "train_model", "load_customers", "--format", "json", env=env)
    table = json.loads(shown.stdout)
    assert len(table["data"]) == 2000
    assert {field["name"] for field in table["schema"]["fields"]} >= {"tenure_months", "churned"}

    split = json.loads(
        mage_prefect(
            "output", demo_project, "train_model", "split_dataset", "--index", "3", "--format", "json", env=env
        ).stdout
    )
    assert len(split["data"]) == 500  # y_test: 25 % of 2000 rows
